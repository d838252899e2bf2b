"""Kali Agents' log contract for Python's standard ``logging`` module.

The observability stack (Promtail or Alloy, Loki, its rules and dashboards) reads the application's four
log files. This package writes them as the contract says (``definitions/logs.ts`` in the stack's
repository, shipped here as ``contract.json`` by ``npm run generate``):

* :class:`JsonFormatter` writes one JSON object a line: ``time`` (RFC 3339, UTC), ``level`` (``debug``,
  ``info``, ``warn``, ``error``), ``msg``, ``logger``, and for a security or audit event ``event`` and its
  fields; an exception's traceback is in ``exc``, in the same line.
* :func:`log_event` logs one of the contract's events at its level, refusing an unknown event or a
  missing field (a programming error, raised where it is made).
* :func:`configure` attaches the four files to a logger: ``app.log`` (every line that is not an event),
  ``security.log`` and ``audit.log`` (their events), ``errors.log`` (a copy of every line at error and
  above, whatever its file).
* :func:`text_formatter` is the operations plan's text format,
  ``%(asctime)s - %(name)s - %(levelname)s - %(message)s``, with times in UTC as the agents read them.
  The agents read it too (levels, loggers, tracebacks), but only JSON lines carry the events the
  security alerts count.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from importlib import resources
from logging.handlers import WatchedFileHandler
from typing import Any, Mapping

__all__ = [
    "CONTRACT",
    "JsonFormatter",
    "PLAN_FORMAT",
    "configure",
    "contract_level",
    "log_event",
    "text_formatter",
]

CONTRACT: Mapping[str, Any] = json.loads(
    resources.files(__package__).joinpath("contract.json").read_text(encoding="utf-8")
)

#: The operations plan's text format.
PLAN_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

# The attributes every LogRecord has: anything else on a record came from ``extra=`` and is a field.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

# Fields the formatter writes itself; an ``extra`` of one of these names would be ambiguous.
_OWN_FIELDS = ("time", "level", "msg", "logger", "exc", "stack")


def contract_level(levelno: int) -> str:
    """The contract's level word for a logging level: WARNING is ``warn``, CRITICAL is ``error``."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _rfc3339(created: float) -> str:
    t = _dt.datetime.fromtimestamp(created, tz=_dt.timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the contract's field names.

    Never raises: a value JSON cannot hold is written as its ``str()``, and a record that breaks the
    contract (an unknown event, a missing field) is written whole with ``contract_error`` naming the
    problem, so nothing is lost.
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": contract_level(record.levelno),
            "msg": record.getMessage(),
            "logger": record.name,
        }
        problems: list[str] = []
        for key, value in vars(record).items():
            if key in _RECORD_ATTRIBUTES or key.startswith("_"):
                continue
            if key in _OWN_FIELDS:
                problems.append(f"extra field {key!r} clashes with the contract's own field")
                key = f"extra_{key}"
            out[key] = value
        event = out.get("event")
        if event is not None:
            spec = CONTRACT["events"].get(event)
            if spec is None:
                problems.append(f"unknown event {event!r} (definitions/logs.ts lists the events)")
            else:
                missing = [f for f in spec["fields"] if f not in out]
                if missing:
                    problems.append(f"event {event!r} lacks {', '.join(missing)}")
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        if problems:
            out["contract_error"] = "; ".join(problems)
        return json.dumps(out, default=str, ensure_ascii=False, separators=(",", ":"))


def text_formatter() -> logging.Formatter:
    """The plan's text format, times in UTC (the agents read asctime as UTC)."""
    formatter = logging.Formatter(PLAN_FORMAT)
    formatter.converter = time.gmtime
    return formatter


def log_event(logger: logging.Logger, event: str, msg: str | None = None, **fields: Any) -> None:
    """Logs a contract event at its level with its fields; raises ValueError for an unknown event,
    a missing field, or a field the event does not have."""
    spec = CONTRACT["events"].get(event)
    if spec is None:
        raise ValueError(f"unknown event {event!r}; the contract has {', '.join(CONTRACT['events'])}")
    missing = [f for f in spec["fields"] if f not in fields]
    if missing:
        raise ValueError(f"event {event!r} needs {', '.join(missing)}")
    extra_fields = [f for f in fields if f not in spec["fields"]]
    if extra_fields:
        raise ValueError(f"event {event!r} has no field {', '.join(extra_fields)}")
    level = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}[
        spec["level"]
    ]
    logger.log(level, msg if msg is not None else event.replace("_", " "), extra={"event": event, **fields})


class _StreamFilter(logging.Filter):
    """Routes records to the contract's files by their event's stream."""

    def __init__(self, stream: str) -> None:
        super().__init__()
        self.stream = stream

    def filter(self, record: logging.LogRecord) -> bool:
        event = getattr(record, "event", None)
        spec = CONTRACT["events"].get(event) if isinstance(event, str) else None
        if self.stream == "errors":
            return record.levelno >= logging.ERROR
        if spec is None:
            return self.stream == "app"
        return spec["stream"] == self.stream


def configure(
    log_dir: str | os.PathLike[str],
    logger: logging.Logger | None = None,
    level: int = logging.INFO,
    formatter: logging.Formatter | None = None,
) -> list[logging.Handler]:
    """Attaches the contract's four files in ``log_dir`` to ``logger`` (the root logger by default).

    WatchedFileHandler reopens a file that logrotate moved away. Returns the handlers (to remove them).
    """
    target = logger if logger is not None else logging.getLogger()
    target.setLevel(level)
    fmt = formatter if formatter is not None else JsonFormatter()
    handlers: list[logging.Handler] = []
    for stream, spec in CONTRACT["streams"].items():
        handler = WatchedFileHandler(os.path.join(os.fspath(log_dir), spec["file"]), encoding="utf-8")
        handler.setFormatter(fmt)
        handler.addFilter(_StreamFilter(stream))
        target.addHandler(handler)
        handlers.append(handler)
    return handlers
