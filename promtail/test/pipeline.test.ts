// Sample lines of every stream (and of a container) through the pipeline promtail.yaml declares: the
// labels and the timestamp each line gets. The stages come from the file, so changing the config changes
// these outcomes; the last tests prove it by running an edited copy.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { createLogger } from "../../lib/log.ts";
import { logStreams, logs, logEvents, type LogStream } from "../../definitions/logs.ts";
import { loadAlloy } from "../../alloy/test/alloy-config.ts";
import { resolveLabel, type AgentModel } from "./agent-model.ts";
import {
  compilePipeline,
  formatNs,
  newState,
  parseRfc3339Nano,
  relabel,
  withoutInternal,
  type LogEntry,
} from "./pipeline.ts";
import { loadPromtail, promtailPath, readPromtail } from "./promtail-config.ts";

/** When the agent read the line: the timestamp a line keeps when its own cannot be used. */
const readAt = parseRfc3339Nano("2026-11-27T12:00:00.5Z")!;
const env = { HOST_NAME: "ops-host-1" };

/** A line of a file target of the model, through the file pipeline (as the agent would ship it). */
function shipFileLine(model: AgentModel, stream: LogStream, line: string, state = newState()) {
  const target = model.files.find((f) => f.path.endsWith(`/${logStreams[stream].file}`));
  assert.ok(target, `no target for ${logStreams[stream].file}`);
  const labels: Record<string, string> = { filename: target.path };
  for (const [k, v] of Object.entries(target.labels)) labels[k] = resolveLabel(v, env);
  const entry: LogEntry = { line, labels, timestampNs: readAt };
  return compilePipeline(model.filePipeline).run(entry, state);
}

/** A container's line: the discovery's meta labels, relabelled, then the container pipeline. */
function shipContainerLine(model: AgentModel, meta: Record<string, string>, line: string) {
  const labels = withoutInternal(
    relabel(meta, model.docker.relabel, (r) => resolveLabel(r.replacement, env)),
  );
  return compilePipeline(model.dockerPipeline).run({ line, labels, timestampNs: readAt });
}

const shipped = (r: ReturnType<typeof shipFileLine>) => {
  assert.ok(r, "the line was dropped");
  return { labels: r.entry.labels, time: formatNs(r.entry.timestampNs), line: r.entry.line };
};

const fileLabels = (stream: LogStream, extra: Record<string, string>) => ({
  job: logs.appJob,
  stream,
  host: env.HOST_NAME,
  filename: `/var/log/kali-agents/${logStreams[stream].file}`,
  ...extra,
});

const promtail = loadPromtail();

describe("promtail pipeline: sample lines of each stream", () => {
  const cases: {
    name: string;
    stream: LogStream;
    line: string;
    labels: Record<string, string>;
    time: string;
  }[] = [
    {
      name: "an app line: level and logger become labels, time becomes the timestamp",
      stream: "app",
      line: '{"time":"2026-11-27T11:58:01.123456789Z","level":"info","msg":"scan queued","logger":"api.scans","scan_id":"4f1c"}',
      labels: fileLabels("app", { level: "info", logger: "api.scans" }),
      time: "2026-11-27T11:58:01.123456789Z",
    },
    {
      name: "a security event: user, ip and event stay in the line, never labels",
      stream: "security",
      line: `{"time":"2026-11-27T11:59:00Z","level":"WARNING","msg":"login failed","logger":"auth","event":"${logEvents.loginFailed.name}","user":"alice","ip":"203.0.113.9"}`,
      labels: fileLabels("security", { level: "warning", logger: "auth" }),
      time: "2026-11-27T11:59:00.000000000Z",
    },
    {
      name: "an audit line with a zone offset: the timestamp is the same instant in UTC",
      stream: "audit",
      line: '{"time":"2026-11-27T13:00:00.25+01:00","level":"info","msg":"role granted","logger":"audit","user":"bob"}',
      labels: fileLabels("audit", { level: "info", logger: "audit" }),
      time: "2026-11-27T12:00:00.250000000Z",
    },
    {
      name: "an errors line with an upper-case level: the label is lower-case",
      stream: "errors",
      line: '{"time":"2026-11-27T11:57:00.5Z","level":"ERROR","msg":"nmap exited 1","logger":"mcp.nmap"}',
      labels: fileLabels("errors", { level: "error", logger: "mcp.nmap" }),
      time: "2026-11-27T11:57:00.500000000Z",
    },
    {
      name: "a line that is not JSON is kept, labelled level=unknown, at the time it was read",
      stream: "errors",
      line: "Traceback (most recent call last):",
      labels: fileLabels("errors", { level: "unknown" }),
      time: formatNs(readAt),
    },
    {
      name: "a JSON array is not an object: kept as unknown",
      stream: "app",
      line: '["not", "an", "event"]',
      labels: fileLabels("app", { level: "unknown" }),
      time: formatNs(readAt),
    },
    {
      name: "a bad timestamp keeps the read time; labels still come from the line",
      stream: "app",
      line: '{"time":"2026-02-30T10:00:00Z","level":"info","msg":"x","logger":"api"}',
      labels: fileLabels("app", { level: "info", logger: "api" }),
      time: formatNs(readAt),
    },
    {
      name: "a timestamp in another format (no zone) is not RFC 3339: read time",
      stream: "app",
      line: '{"time":"2026-11-27 11:00:00,123","level":"info","msg":"x","logger":"api"}',
      labels: fileLabels("app", { level: "info", logger: "api" }),
      time: formatNs(readAt),
    },
    {
      name: "a JSON line without level or logger: level=unknown, no logger label",
      stream: "audit",
      line: '{"time":"2026-11-27T11:00:00Z","msg":"export finished"}',
      labels: fileLabels("audit", { level: "unknown" }),
      time: "2026-11-27T11:00:00.000000000Z",
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const got = shipped(shipFileLine(promtail, c.stream, c.line));
      assert.deepEqual(got.labels, c.labels);
      assert.equal(got.time, c.time);
      assert.equal(got.line, c.line, "the pipeline must not rewrite the line");
    });

  test("the security event's user, ip and event are extracted (for later stages) but are not labels", () => {
    const r = shipFileLine(
      promtail,
      "security",
      `{"time":"2026-11-27T11:59:00Z","level":"warning","msg":"login failed","logger":"auth","event":"${logEvents.loginFailed.name}","user":"alice","ip":"203.0.113.9"}`,
    );
    assert.ok(r);
    assert.equal(r.extracted.get("user"), "alice");
    assert.equal(r.extracted.get("ip"), "203.0.113.9");
    assert.equal(r.extracted.get("event"), logEvents.loginFailed.name);
    for (const unbounded of ["user", "ip", "event", "msg", "scan_id"])
      assert.ok(!(unbounded in r.entry.labels));
  });

  test("the host label falls back to kali-agents when HOST_NAME is unset", () => {
    const target = promtail.files[0]!;
    assert.equal(resolveLabel(target.labels.host!, {}), "kali-agents");
    assert.equal(resolveLabel(target.labels.host!, { HOST_NAME: "" }), "kali-agents");
  });
});

describe("promtail pipeline: the exporter's own log lines", () => {
  test("a line written by lib/log.ts gets level and logger labels and its own time", () => {
    const lines: string[] = [];
    const log = createLogger({ logger: "exporter", write: (l) => lines.push(l) }).child("postgres");
    log.warn("collector failed", { error: new Error("connect ECONNREFUSED"), duration_seconds: 0.25 });
    assert.equal(lines.length, 1);
    const event = JSON.parse(lines[0]!) as { time: string };
    const r = shipContainerLine(
      promtail,
      {
        __meta_docker_container_name: "/kali-agents-exporter-1",
        __meta_docker_container_label_com_docker_compose_service: "exporter",
      },
      lines[0]!,
    );
    assert.ok(r);
    assert.deepEqual(r.entry.labels, {
      job: logs.containerJob,
      container: "kali-agents-exporter-1",
      service: "exporter",
      host: env.HOST_NAME,
      level: "warn",
      logger: "exporter.postgres",
    });
    // toISOString() has milliseconds and a Z: RFC 3339, so the event keeps its own time.
    assert.equal(r.entry.timestampNs, parseRfc3339Nano(event.time));
    assert.equal(r.extracted.get("msg"), "collector failed");
  });

  const container = (service: string) => ({
    __meta_docker_container_name: `/kali-agents-${service}-1`,
    __meta_docker_container_label_com_docker_compose_service: service,
  });
  const containerCases: { name: string; service: string; line: string; level: string }[] = [
    {
      name: "Prometheus' logfmt (slog) line: the level comes from level=, lower-cased",
      service: "prometheus",
      line: 'time=2026-11-27T12:00:00.000Z level=WARN source=manager.go:176 msg="rule evaluation failed"',
      level: "warn",
    },
    {
      name: "Grafana's logfmt line",
      service: "grafana",
      line: 'logger=settings t=2026-11-27T12:00:00.1+00:00 level=info msg="Starting Grafana"',
      level: "info",
    },
    {
      name: "a JSON line whose message mentions level=: the JSON field wins",
      service: "exporter",
      line: '{"time":"2026-11-27T12:00:00Z","level":"info","msg":"set level=debug on request","logger":"exporter"}',
      level: "info",
    },
    {
      name: "a line neither JSON nor logfmt (Redis) is kept with level=unknown",
      service: "redis",
      line: "1:M 27 Nov 2026 12:00:00.000 * Ready to accept connections tcp",
      level: "unknown",
    },
  ];
  for (const c of containerCases)
    test(c.name, () => {
      const r = shipContainerLine(promtail, container(c.service), c.line);
      assert.ok(r);
      assert.equal(r.entry.labels.level, c.level);
      assert.equal(r.entry.labels.service, c.service);
      assert.equal(r.entry.line, c.line);
      // Only JSON lines' `time` is read: logfmt lines keep Docker's timestamp.
      if (!c.line.startsWith("{")) assert.equal(r.entry.timestampNs, readAt);
    });
});

describe("alloy pipeline: the same lines give the same labels and timestamps", () => {
  const alloy = loadAlloy();
  const lines = [
    '{"time":"2026-11-27T11:58:01.123456789Z","level":"info","msg":"scan queued","logger":"api.scans"}',
    `{"time":"2026-11-27T11:59:00Z","level":"WARNING","msg":"login failed","logger":"auth","event":"${logEvents.loginFailed.name}","user":"alice","ip":"203.0.113.9"}`,
    "Traceback (most recent call last):",
    'level=error ts=2026-11-27T12:00:00Z msg="logfmt"',
    '{"time":"not a time","level":"error","logger":"x"}',
    '{"time":"2026-11-27T11:58:01Z","level":"info"}',
    '{"time":"2026-11-27T11:58:01Z","level":"info"}', // a duplicate timestamp: both keep it as it is
  ];
  for (const stream of Object.keys(logStreams) as LogStream[])
    test(`${stream} stream`, () => {
      const [ps, as] = [newState(), newState()];
      for (const line of lines)
        assert.deepEqual(
          shipped(shipFileLine(alloy, stream, line, as)),
          shipped(shipFileLine(promtail, stream, line, ps)),
          line,
        );
    });
});

describe("the pipeline test reads the config", () => {
  const text = readFileSync(promtailPath, "utf8");
  const line = '{"time":"2026-11-27T11:00:00Z","level":"info","msg":"x","logger":"api"}';

  test("without logger in the labels stage, lines lose their logger label", () => {
    const edited = text.replace(/\n {10}logger:\n/, "\n");
    assert.notEqual(edited, text, "the labels stage's logger entry was not found");
    const r = shipped(shipFileLine(readPromtail(edited), "app", line));
    assert.ok(!("logger" in r.labels));
  });

  test("with action_on_failure fudge, a bad timestamp takes the previous line's time plus 1ns", () => {
    const edited = text.replace("action_on_failure: skip", "action_on_failure: fudge");
    assert.notEqual(edited, text);
    const model = readPromtail(edited);
    const state = newState();
    shipFileLine(model, "app", line, state);
    const r = shipped(shipFileLine(model, "app", '{"time":"garbage","level":"info","logger":"api"}', state));
    assert.equal(r.time, "2026-11-27T11:00:00.000000001Z");
  });

  test("with drop_malformed, a line that is not JSON is dropped", () => {
    const edited = text.replace("drop_malformed: false", "drop_malformed: true");
    assert.notEqual(edited, text);
    assert.equal(shipFileLine(readPromtail(edited), "app", "plain text"), null);
  });
});

/** A file's lines as the agent reads them: joined by the multiline stage, then each entry shipped. */
function shipFileLines(model: AgentModel, stream: LogStream, lines: readonly string[]) {
  const state = newState();
  return compilePipeline(model.filePipeline)
    .assemble(lines)
    .map((entry) => shipped(shipFileLine(model, stream, entry, state)));
}

describe("the operations plan's Python text format, through Promtail and Alloy", () => {
  const alloy = loadAlloy();
  const text = (time: string, logger: string, level: string, msg: string) =>
    `${time} - ${logger} - ${level} - ${msg}`;
  for (const [agent, model] of [
    ["promtail", promtail],
    ["alloy", alloy],
  ] as const) {
    test(`${agent}: time, logger and level from the line; WARNING and CRITICAL lower-cased; asctime read as UTC`, () => {
      const got = shipFileLines(model, "app", [
        text("2026-12-07 19:30:01,123", "kali_agents.api", "INFO", "GET /scans 200 in 12 ms"),
        text("2026-12-07 23:59:59,999", "kali_agents.db", "WARNING", "pool exhausted, retry level=debug"),
        text("2026-12-08 00:00:00,000", "kali_agents.scans", "CRITICAL", "worker lost"),
      ]);
      assert.deepEqual(
        got.map((g) => [g.labels.level, g.labels.logger, g.time]),
        [
          ["info", "kali_agents.api", "2026-12-07T19:30:01.123000000Z"],
          // The text format's level wins over a logfmt-looking word in the message.
          ["warning", "kali_agents.db", "2026-12-07T23:59:59.999000000Z"],
          ["critical", "kali_agents.scans", "2026-12-08T00:00:00.000000000Z"],
        ],
      );
      for (const g of got)
        assert.deepEqual(
          Object.keys(g.labels).sort(),
          [...logs.labels.filter((l) => !["service", "container"].includes(l))].sort(),
        );
    });

    test(`${agent}: a traceback stays with the line that logged it, JSON and text lines interleaved`, () => {
      const lines = [
        '{"time":"2026-12-07T19:30:00Z","level":"info","msg":"start","logger":"kali_agents.api"}',
        text("2026-12-07 19:30:02,500", "kali_agents.scans", "ERROR", "scan 42 failed"),
        "Traceback (most recent call last):",
        '  File "/app/kali_agents/scans.py", line 88, in run',
        "    result = tool.execute(target)",
        "ValueError: nmap exited with status 1",
        text("2026-12-07 19:30:03,000", "kali_agents.api", "INFO", "GET /health 200"),
        '{"time":"2026-12-07T19:30:04Z","level":"error","msg":"x","logger":"kali_agents.db"}',
      ];
      const got = shipFileLines(model, "errors", lines);
      assert.equal(got.length, 4);
      assert.equal(got[1]!.line, lines.slice(1, 6).join("\n"), "the traceback is in the entry, in order");
      assert.deepEqual(
        got.map((g) => [g.labels.level, g.labels.logger, g.time]),
        [
          ["info", "kali_agents.api", "2026-12-07T19:30:00.000000000Z"],
          ["error", "kali_agents.scans", "2026-12-07T19:30:02.500000000Z"],
          ["info", "kali_agents.api", "2026-12-07T19:30:03.000000000Z"],
          ["error", "kali_agents.db", "2026-12-07T19:30:04.000000000Z"],
        ],
      );
      const r = compilePipeline(model.filePipeline).run({
        line: got[1]!.line,
        labels: { job: logs.appJob },
        timestampNs: readAt,
      });
      assert.equal(r?.extracted.get("msg"), lines.slice(1, 6).join("\n").split(" - ").slice(3).join(" - "));
    });

    test(`${agent}: a runaway traceback is cut at max_lines; a bad asctime keeps the read time`, () => {
      const frames = Array.from({ length: 700 }, (_, i) => `  File "/app/deep.py", line ${i}, in f`);
      const got = shipFileLines(model, "app", [
        text("2026-12-07 19:30:02,500", "kali_agents.scans", "ERROR", "recursion"),
        ...frames,
        text("2026-02-30 10:00:00,000", "kali_agents.api", "INFO", "impossible date"),
      ]);
      assert.deepEqual(
        got.map((g) => [g.line.split("\n").length, g.labels.level]),
        [
          [500, "error"],
          // The rest of the traceback: an entry of its own, which no stage can read.
          [201, "unknown"],
          [1, "info"],
        ],
      );
      assert.equal(got[2]!.time, formatNs(readAt));
    });
  }

  test("Alloy and Promtail give every one of these the same labels, time and line", () => {
    const lines = [
      text("2026-12-07 19:30:01,123", "kali_agents.api", "INFO", "a"),
      text("2026-12-07 19:30:02,000", "kali_agents.scans", "ERROR", "b"),
      "Traceback (most recent call last):",
      "KeyError: 'x'",
      '{"time":"2026-12-07T19:30:04Z","level":"warn","msg":"c","logger":"kali_agents.db"}',
      "orphan continuation",
    ];
    for (const stream of Object.keys(logStreams) as LogStream[])
      assert.deepEqual(shipFileLines(alloy, stream, lines), shipFileLines(promtail, stream, lines), stream);
  });

  test("without the multiline stage, a traceback's lines are entries of their own, level unknown", () => {
    const config = readFileSync(promtailPath, "utf8");
    const edited = config.replace(/ {6}- multiline:\n(?: {10}.*\n)+/, "");
    assert.notEqual(edited, config, "the multiline stage was not found");
    const got = shipFileLines(readPromtail(edited), "errors", [
      text("2026-12-07 19:30:02,500", "kali_agents.scans", "ERROR", "scan 42 failed"),
      "Traceback (most recent call last):",
    ]);
    assert.deepEqual(
      got.map((g) => g.labels.level),
      ["error", "unknown"],
    );
  });
});
