// What an application logging with python/kali_agents_logging writes, and what one logging in the
// operations plan's text format writes, through both log agents' pipelines (Promtail and Alloy, read
// from promtail/promtail.yaml and alloy/config.alloy into the pipeline model) and the LogQL the
// repository ships (the Loki rules, the dashboards' panels). A real python3 writes the four files with
// the standard logging module: the JSON formatter's lines and the plain text, tracebacks included.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { levelRegex, logEvents, logs, logStreams, type LogStream } from "../../definitions/logs.ts";
import { isAlert } from "../../definitions/rules.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { loadAlloy } from "../../alloy/test/alloy-config.ts";
import { resolveLabel, type AgentModel } from "../../promtail/test/agent-model.ts";
import { compilePipeline, newState } from "../../promtail/test/pipeline.ts";
import { loadPromtail } from "../../promtail/test/promtail-config.ts";
import { lokiRuleGroups } from "../../loki/rules/src/index.ts";
import { logRecordingsGroup } from "../../loki/rules/src/log-recordings.ts";
import {
  dashboardLokiQueries,
  failingStage,
  logPipelines,
  withoutGrafanaMacros,
} from "../../loki/test/logql.ts";
import { tempDir } from "../../test/support/servers.ts";
import { requirePython } from "./support.ts";

const root = new URL("../..", import.meta.url).pathname;
const FAILED_LOGINS = thresholds.logs.authFailuresPer5m + 5;
const REQUESTS = 40;

// The same application twice: once with the package's JSON formatter, once with the plan's text
// format (the package's text_formatter: the same routing to the four files, UTC times).
const script = `
import logging, sys
from kali_agents_logging import CONTRACT, configure, log_event, text_formatter

def run(directory, formatter):
    app = logging.getLogger("kali_agents")
    app.propagate = False
    handlers = configure(directory, logger=app, level=logging.DEBUG, formatter=formatter)
    api = logging.getLogger("kali_agents.api")
    security = logging.getLogger("kali_agents.security")
    for i in range(${REQUESTS}):
        api.info("GET /scans/%d 200 in %d ms", i, i % 17)
    api.debug("cache warm")
    api.warning("slow query: 2.5 s, level=debug in its text")
    for i in range(${FAILED_LOGINS}):
        log_event(security, "login_failed", user="user%d" % (i % 3), ip="203.0.113.%d" % (i % 250))
    for name, spec in CONTRACT["events"].items():
        log_event(logging.getLogger("kali_agents." + spec["stream"]), name, **{f: f + "-x" for f in spec["fields"]})
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("kali_agents.scans").exception("scan 42 failed: \\"quoted\\" and é")
    logging.getLogger("kali_agents.db").critical("connection pool lost")
    for h in handlers:
        app.removeHandler(h)
        h.close()

run(sys.argv[1], None)
run(sys.argv[2], text_formatter())
`;

interface Shipped {
  readonly labels: Record<string, string>;
  readonly line: string;
}

/** A file's lines as an agent ships them: joined by its multiline stage, then through its pipeline. */
function shipFile(model: AgentModel, stream: LogStream, text: string): Shipped[] {
  const target = model.files.find((f) => f.path.endsWith(`/${logStreams[stream].file}`));
  assert.ok(target, `no target for ${stream}`);
  const labels: Record<string, string> = { filename: target.path };
  for (const [k, v] of Object.entries(target.labels)) labels[k] = resolveLabel(v, {});
  const pipeline = compilePipeline(model.filePipeline);
  const state = newState();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return pipeline.assemble(lines).map((line) => {
    const r = pipeline.run({ line, labels, timestampNs: 0n }, state);
    assert.ok(r, "dropped");
    return { labels: r.entry.labels, line: r.entry.line };
  });
}

const passing = (query: string, shipped: readonly Shipped[]): Shipped[] =>
  shipped.filter((s) => logPipelines(query).some((p) => failingStage(p, s) === null));

describe(
  "the Python package's JSON and the plan's text through both agents and the shipped LogQL",
  { skip: requirePython() },
  () => {
    const jsonDir = tempDir("pylog-json");
    const textDir = tempDir("pylog-text");
    const shipped: Record<"json" | "text", Record<"promtail" | "alloy", Shipped[]>> = {
      json: { promtail: [], alloy: [] },
      text: { promtail: [], alloy: [] },
    };
    const files: Record<"json" | "text", Record<LogStream, string>> = {
      json: { app: "", security: "", audit: "", errors: "" },
      text: { app: "", security: "", audit: "", errors: "" },
    };

    before(() => {
      const r = spawnSync("python3", ["-c", script, jsonDir, textDir], {
        cwd: root,
        encoding: "utf8",
        timeout: 60_000,
        env: {
          ...process.env,
          PYTHONPATH: join(root, "python/kali_agents_logging/src"),
          PYTHONDONTWRITEBYTECODE: "1",
        },
      });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      const models = { promtail: loadPromtail(), alloy: loadAlloy() };
      for (const [format, dir] of [
        ["json", jsonDir],
        ["text", textDir],
      ] as const)
        for (const stream of Object.keys(logStreams) as LogStream[]) {
          files[format][stream] = readFileSync(join(dir, logStreams[stream].file), "utf8");
          for (const agent of ["promtail", "alloy"] as const)
            shipped[format][agent].push(...shipFile(models[agent], stream, files[format][stream]));
        }
    });
    after(() => {
      rmSync(jsonDir, { recursive: true, force: true });
      rmSync(textDir, { recursive: true, force: true });
    });

    test("Promtail and Alloy ship the same entries with the same labels", () => {
      for (const format of ["json", "text"] as const)
        assert.deepEqual(shipped[format].alloy, shipped[format].promtail, format);
    });

    test("every entry has its stream, a level of the contract's words or Python's, and its logger", () => {
      const events = Object.keys(logEvents).length;
      // The calls the script makes: requests, debug, warning, failed logins, one of each event, the
      // exception, the critical line (and their copies in errors.log).
      const calls = { app: REQUESTS + 4, security: FAILED_LOGINS, audit: 0, errors: 2 };
      for (const e of Object.values(logEvents)) calls[e.stream]++;
      assert.equal(calls.security + calls.audit, FAILED_LOGINS + events);
      for (const format of ["json", "text"] as const) {
        const got = shipped[format].promtail;
        for (const stream of Object.keys(logStreams) as LogStream[])
          assert.equal(
            got.filter((s) => s.labels.stream === stream).length,
            calls[stream],
            `${format} ${stream}: one entry a logging call`,
          );
        for (const s of got) {
          assert.match(s.labels.logger ?? "", /^kali_agents\.(api|security|audit|scans|db)$/, s.line);
          assert.equal(s.labels.job, logs.appJob);
        }
        const levels = new Set(got.map((s) => s.labels.level));
        assert.deepEqual(
          [...levels].sort(),
          format === "json"
            ? ["debug", "error", "info", "warn"]
            : ["critical", "debug", "error", "info", "warning"],
          format,
        );
      }
      // The traceback: in the JSON line's exc field; in the text format, the lines after it joined to it.
      const exc = (format: "json" | "text") =>
        shipped[format].promtail.find(
          (s) => s.labels.stream === "errors" && s.line.includes("scan 42 failed"),
        )!;
      assert.match(
        (JSON.parse(exc("json").line) as { exc: string }).exc,
        /^Traceback[\s\S]*KeyError: 'missing'$/,
      );
      assert.match(
        exc("text").line,
        /scan 42 failed: "quoted" and é\nTraceback \(most recent call last\):\n[\s\S]*KeyError: 'missing'$/,
      );
      assert.ok(
        files.text.errors.split("\n").length > 4,
        "the text traceback spans several lines of the file",
      );
    });

    test("SecurityAuthFailureSpike counts the JSON formatter's failed logins; the plain text has no event to count", () => {
      const rule = lokiRuleGroups
        .flatMap((g) => g.rules)
        .find((r) => isAlert(r) && r.alert === "SecurityAuthFailureSpike");
      assert.ok(rule);
      for (const agent of ["promtail", "alloy"] as const) {
        assert.equal(passing(rule.expr, shipped.json[agent]).length, FAILED_LOGINS + 1, agent);
        assert.ok(FAILED_LOGINS + 1 > thresholds.logs.authFailuresPer5m);
        // The plan's format writes the message only: the security alerts need the JSON formatter.
        assert.equal(passing(rule.expr, shipped.text[agent]).length, 0, agent);
      }
    });

    test("LogsErrorRatioHigh's recording sees the errors of both formats by their level label", () => {
      const [recording] = logRecordingsGroup.rules;
      assert.ok(recording && !isAlert(recording));
      const errorOrWorse = new RegExp(`^(?:${levelRegex.errorOrWorse})$`);
      for (const format of ["json", "text"] as const) {
        const recorded: Shipped[] = passing(recording.expr, shipped[format].promtail).filter(
          (s) => s.labels.stream !== "errors",
        );
        const errors: Shipped[] = recorded.filter((s) => errorOrWorse.test(s.labels.level ?? ""));
        // The exception and the critical line, in app.log.
        assert.equal(errors.length, 2, format);
        assert.ok(errors.every((s) => s.labels.stream === "app"));
        // The ratio the alert compares: errors over all lines of the source.
        const ratio = errors.length / recorded.filter((s) => s.labels.stream === "app").length;
        assert.ok(ratio > 0 && ratio < 1, `${format}: ${ratio}`);
      }
    });

    test("the logs dashboard's panels: every one has lines of both formats, but the event panels need JSON", () => {
      const queries = dashboardLokiQueries(join(root, "dashboards/generated"))
        .map((q) => withoutGrafanaMacros(q.expr))
        .filter((q) => q.includes(`job="${logs.appJob}"`));
      assert.ok(queries.length >= 8);
      const eventPanels = queries.filter((q) => q.includes("| json"));
      assert.equal(eventPanels.length, 2, "the security events and the failed logins");
      for (const q of queries) {
        assert.ok(passing(q, shipped.json.promtail).length > 0, `json: ${q}`);
        assert.equal(passing(q, shipped.text.promtail).length > 0, !eventPanels.includes(q), `text: ${q}`);
      }
      // The level panel (sum by level) splits the text lines by their level, not into "unknown".
      const byLevel = queries.find((q) => q.startsWith("sum by (level)"))!;
      assert.ok(passing(byLevel, shipped.text.promtail).every((s) => s.labels.level !== "unknown"));
    });
  },
);
