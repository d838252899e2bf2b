"""Tests of kali_agents_logging against its contract (contract.json, generated from definitions/logs.ts)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from kali_agents_logging import (  # noqa: E402
    CONTRACT,
    PLAN_FORMAT,
    JsonFormatter,
    configure,
    contract_level,
    log_event,
    text_formatter,
)

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def capture(name: str, formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, buf


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


class Packaging(unittest.TestCase):
    def test_the_package_ships_its_contract(self) -> None:
        import tomllib

        root = os.path.join(os.path.dirname(__file__), "..")
        with open(os.path.join(root, "pyproject.toml"), "rb") as f:
            project = tomllib.load(f)
        self.assertEqual(project["tool"]["setuptools"]["packages"]["find"]["where"], ["src"])
        self.assertIn("contract.json", project["tool"]["setuptools"]["package-data"]["kali_agents_logging"])
        self.assertTrue(os.path.isfile(os.path.join(root, "src", "kali_agents_logging", "contract.json")))
        self.assertEqual(project["project"]["dependencies"], [], "the standard library only")


class ContractFile(unittest.TestCase):
    def test_the_contract_has_the_four_streams_levels_and_events(self) -> None:
        self.assertEqual(set(CONTRACT["streams"]), {"app", "security", "audit", "errors"})
        self.assertEqual(CONTRACT["levels"], ["debug", "info", "warn", "error"])
        self.assertIn("login_failed", CONTRACT["events"])
        for name, spec in CONTRACT["events"].items():
            self.assertIn(spec["stream"], ("security", "audit"), name)
            self.assertIn(spec["level"], CONTRACT["levels"], name)


class Formatter(unittest.TestCase):
    def test_fields_time_level_msg_logger(self) -> None:
        log, buf = capture("kali_agents.api", JsonFormatter())
        log.info("GET %s %d", "/scans", 200)
        (line,) = lines(buf)
        self.assertEqual(list(line)[:4], ["time", "level", "msg", "logger"])
        self.assertRegex(line["time"], RFC3339_MS)
        self.assertEqual(line["level"], "info")
        self.assertEqual(line["msg"], "GET /scans 200")
        self.assertEqual(line["logger"], "kali_agents.api")

    def test_the_time_is_utc_whatever_the_local_zone(self) -> None:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        record.created = 1796671801.1239  # 2026-12-07 19:30:01.123 UTC
        with mock.patch.dict(os.environ, {"TZ": "Asia/Kathmandu"}):
            if hasattr(__import__("time"), "tzset"):
                __import__("time").tzset()
            out = json.loads(JsonFormatter().format(record))
        __import__("time").tzset() if hasattr(__import__("time"), "tzset") else None
        self.assertEqual(out["time"], "2026-12-07T19:30:01.123Z")

    def test_levels_are_the_contracts_words(self) -> None:
        self.assertEqual(
            [contract_level(x) for x in (5, logging.DEBUG, logging.INFO, logging.WARNING, 35, logging.ERROR, logging.CRITICAL)],
            ["debug", "debug", "info", "warn", "warn", "error", "error"],
        )
        log, buf = capture("kali_agents.db", JsonFormatter())
        log.warning("w")
        log.critical("c")
        self.assertEqual([x["level"] for x in lines(buf)], ["warn", "error"])
        for word in (x["level"] for x in lines(buf)):
            self.assertIn(word, CONTRACT["levels"])

    def test_a_traceback_stays_in_the_line(self) -> None:
        log, buf = capture("kali_agents.scans", JsonFormatter())
        try:
            raise ValueError("nmap exited with status 1")
        except ValueError:
            log.exception("scan 42 failed")
        self.assertEqual(len(buf.getvalue().splitlines()), 1, "one line, the traceback escaped inside it")
        (line,) = lines(buf)
        self.assertEqual(line["level"], "error")
        self.assertTrue(line["exc"].startswith("Traceback (most recent call last):"))
        self.assertIn("ValueError: nmap exited with status 1", line["exc"])

    def test_hostile_values_neither_raise_nor_break_the_line(self) -> None:
        log, buf = capture("kali_agents.api", JsonFormatter())
        log.info('quote " newline \n tab \t nul \x00 unicode é 🛡 {"level":"error"}', extra={"obj": object(), "n": float("nan")})
        (line,) = lines(buf)
        self.assertEqual(line["level"], "info", "a JSON-looking message does not change the level")
        self.assertIn("\n", line["msg"])
        self.assertTrue(line["obj"].startswith("<object object"))

    def test_an_event_with_its_fields(self) -> None:
        log, buf = capture("kali_agents.security", JsonFormatter())
        log.warning("login failed", extra={"event": "login_failed", "user": "alice", "ip": "203.0.113.9"})
        (line,) = lines(buf)
        self.assertEqual((line["event"], line["user"], line["ip"]), ("login_failed", "alice", "203.0.113.9"))
        self.assertNotIn("contract_error", line)

    def test_a_record_breaking_the_contract_is_written_whole_with_the_problem_named(self) -> None:
        log, buf = capture("kali_agents.security", JsonFormatter())
        log.warning("x", extra={"event": "login_failure", "user": "bob"})
        log.warning("y", extra={"event": "login_failed", "user": "bob"})
        log.info("z", extra={"level_hint": 1, "msg_id": 2})
        a, b, c = lines(buf)
        self.assertEqual(a["event"], "login_failure")
        self.assertRegex(a["contract_error"], r"unknown event 'login_failure'")
        self.assertEqual(b["contract_error"], "event 'login_failed' lacks ip")
        self.assertNotIn("contract_error", c)


class Events(unittest.TestCase):
    def test_every_contract_event_is_logged_at_its_level_with_its_fields(self) -> None:
        log, buf = capture("kali_agents.security", JsonFormatter())
        for name, spec in CONTRACT["events"].items():
            log_event(log, name, **{f: f"{f}-value" for f in spec["fields"]})
        got = lines(buf)
        self.assertEqual([x["event"] for x in got], list(CONTRACT["events"]))
        for line, (name, spec) in zip(got, CONTRACT["events"].items()):
            self.assertEqual(line["level"], spec["level"], name)
            for f in spec["fields"]:
                self.assertEqual(line[f], f"{f}-value")
            self.assertNotIn("contract_error", line)

    def test_unknown_events_missing_and_foreign_fields_raise(self) -> None:
        log, _ = capture("kali_agents.security", JsonFormatter())
        with self.assertRaisesRegex(ValueError, "unknown event 'logged_in'"):
            log_event(log, "logged_in", user="a", ip="b")
        with self.assertRaisesRegex(ValueError, "'login_failed' needs ip"):
            log_event(log, "login_failed", user="a")
        with self.assertRaisesRegex(ValueError, "'login_failed' has no field password"):
            log_event(log, "login_failed", user="a", ip="b", password="hunter2")


class Files(unittest.TestCase):
    def test_lines_are_routed_to_the_contracts_four_files(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            # Loggers of their own: the other tests' capture() took over kali_agents.* loggers.
            logger = logging.getLogger("routing")
            logger.propagate = False
            handlers = configure(d, logger=logger, level=logging.DEBUG)
            try:
                logging.getLogger("routing.api").info("GET /scans 200")
                log_event(logging.getLogger("routing.security"), "login_failed", user="a", ip="198.51.100.7")
                log_event(logging.getLogger("routing.audit"), "scan_cancelled", user="a", scan_id="42")
                logging.getLogger("routing.scans").error("scan 42 failed")
                logging.getLogger("routing.security").error(
                    "auth backend down", extra={"event": "access_denied", "user": "a", "ip": "b"}
                )
            finally:
                for h in handlers:
                    logger.removeHandler(h)
                    h.close()

            def read(stream: str) -> list[dict]:
                with open(os.path.join(d, CONTRACT["streams"][stream]["file"]), encoding="utf-8") as f:
                    return [json.loads(x) for x in f]

            self.assertEqual([x["msg"] for x in read("app")], ["GET /scans 200", "scan 42 failed"])
            self.assertEqual([x.get("event") for x in read("security")], ["login_failed", "access_denied"])
            self.assertEqual([x["event"] for x in read("audit")], ["scan_cancelled"])
            self.assertEqual([x["msg"] for x in read("errors")], ["scan 42 failed", "auth backend down"])


class PlanText(unittest.TestCase):
    def test_the_plans_format_with_utc_times(self) -> None:
        self.assertEqual(PLAN_FORMAT, "%(asctime)s - %(name)s - %(levelname)s - %(message)s")
        log, buf = capture("kali_agents.api", text_formatter())
        record_time = 1796671801.1235
        with mock.patch("time.time", return_value=record_time), mock.patch("time.time_ns", return_value=int(record_time * 1e9)):
            log.warning("pool exhausted")
        self.assertEqual(buf.getvalue(), "2026-12-07 19:30:01,123 - kali_agents.api - WARNING - pool exhausted\n")


if __name__ == "__main__":
    unittest.main()
