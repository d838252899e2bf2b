// promtail/promtail.yaml as a whole: the four files with one stream each, bounded labels only, positions
// that persist, the push URL, container discovery, and text that survives -config.expand-env.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import YAML from "yaml";
import { logStreams, logs, type LogStream } from "../../definitions/logs.ts";
import { composeService, loadCompose, mountsOf } from "../../loki/test/compose.ts";
import { attachedLabels } from "../../loki/test/logql.ts";
import { resolveLabel } from "./agent-model.ts";
import { expandEnv, loadPromtail, promtailPath, readPromtail } from "./promtail-config.ts";

const text = readFileSync(promtailPath, "utf8");
const model = loadPromtail();

describe("promtail.yaml", () => {
  test("one file target per stream of definitions/logs.ts, labelled job and stream", () => {
    const byStream = Object.fromEntries(
      model.files.map((f) => [
        resolveLabel(f.labels.stream!, {}),
        { path: f.path, job: resolveLabel(f.labels.job!, {}) },
      ]),
    );
    assert.deepEqual(
      byStream,
      Object.fromEntries(
        (Object.keys(logStreams) as LogStream[]).map((s) => [
          s,
          { path: `/var/log/kali-agents/${logStreams[s].file}`, job: logs.appJob },
        ]),
      ),
    );
  });

  test("exact file paths, no glob: rotated files (app.log.1) are never shipped twice", () => {
    for (const f of model.files) assert.doesNotMatch(f.path, /[*?[{]/);
  });

  test("the labels it attaches are exactly definitions/logs.ts logs.labels", () => {
    assert.deepEqual([...attachedLabels(model).keys()].sort(), [...logs.labels].sort());
  });

  test("only level and logger come from the line; user, ip, event and scan ids never become labels", () => {
    for (const pipeline of [model.filePipeline, model.dockerPipeline]) {
      const labelStages = pipeline.filter((s) => s.type === "labels" || s.type === "static_labels");
      assert.deepEqual(labelStages, [{ type: "labels", values: { level: "level", logger: "logger" } }]);
    }
  });

  test("the JSON stage extracts the application's fields and keeps lines that are not JSON", () => {
    const json = model.filePipeline.find((s) => s.type === "json");
    assert.ok(json && json.type === "json");
    assert.deepEqual(Object.keys(json.expressions).sort(), [
      "event",
      "ip",
      "level",
      "logger",
      "msg",
      "time",
      "user",
    ]);
    for (const [k, v] of Object.entries(json.expressions))
      assert.equal(v, k, `${k} is read from the field ${k}`);
    assert.equal(
      json.dropMalformed,
      false,
      "drop_malformed would drop every line that is not JSON, silently",
    );
    assert.ok(!model.filePipeline.some((s) => (s as { type: string }).type === "drop"));
  });

  test("the timestamp comes from `time` as RFC 3339, and a bad one keeps the read time", () => {
    const ts = model.filePipeline.find((s) => s.type === "timestamp");
    assert.deepEqual(ts, {
      type: "timestamp",
      source: "time",
      format: "RFC3339Nano",
      actionOnFailure: "skip",
      actionOnDuplicate: "keep",
    });
  });

  test("container logs go through the same pipeline (the exporter logs JSON on stdout)", () => {
    // The file job's stages are the container job's after its multiline stage (written out twice).
    assert.equal(model.filePipeline[0]?.type, "multiline");
    assert.deepEqual(model.dockerPipeline, model.filePipeline.slice(1));
    assert.equal(model.docker.host, "unix:///var/run/docker.sock");
  });

  test("pushes to Loki in compose", () => {
    assert.equal(model.pushUrl, "http://loki:3100/loki/api/v1/push");
  });

  test("positions persist in /var/lib/promtail", () => {
    assert.equal(model.positionsFile, "/var/lib/promtail/positions.yaml");
  });

  test("survives -config.expand-env: no backslash, no stray $, and HOST_NAME expands", () => {
    const expanded = expandEnv(text, { HOST_NAME: "ops-1" });
    const reread = readPromtail(expanded);
    assert.ok(reread.files.every((f) => resolveLabel(f.labels.host!, {}) === "ops-1"));
    assert.equal(
      YAML.parse(expandEnv(text, {})).scrape_configs[0].static_configs[0].labels.host,
      "kali-agents",
    );
    // The check itself can fail: a relabel replacement written as $1 is refused.
    assert.throws(() => expandEnv(`${text}\n# replacement: $1\n`, {}), /expand-env rewrites/);
    assert.throws(() => expandEnv(`${text}\n# regex: \\d+\n`, {}), /backslash/);
  });

  test("the reader refuses a stage it does not interpret rather than skipping it", () => {
    const edited = text.replace("      - labels:\n", "      - metrics: {}\n      - labels:\n");
    assert.notEqual(edited, text);
    assert.throws(() => readPromtail(edited), /stage metrics is not one this reader interprets/);
  });
});

describe("compose.yaml keeps Promtail's positions", () => {
  const compose = loadCompose();
  test("the positions directory is a named volume, and the log directory and Docker socket are mounted", () => {
    const mounts = mountsOf(compose, composeService(compose, "promtail"));
    const dir = model.positionsFile.replace(/\/[^/]+$/, "");
    assert.ok(
      mounts.some((m) => m.type === "volume" && m.source !== undefined && m.target === dir && !m.readOnly),
      `promtail needs a writable named volume at ${dir}: without it a restart re-reads or skips lines`,
    );
    assert.ok(
      mounts.some((m) => m.target === "/var/log/kali-agents"),
      "the application's log directory is not mounted",
    );
    assert.ok(
      mounts.some((m) => m.target === "/var/run/docker.sock"),
      "the Docker socket is not mounted",
    );
    const promtail = composeService(compose, "promtail");
    assert.match(JSON.stringify(promtail.command), /-config\.expand-env=true/);
    // The host label comes from HOST_NAME: without it every machine would be "kali-agents".
    const envNames = model.files
      .flatMap((f) => Object.values(f.labels))
      .flatMap((v) => (v.kind === "env" ? [v.name] : []));
    for (const name of new Set(envNames))
      assert.ok(
        JSON.stringify(promtail.environment ?? {}).includes(name),
        `promtail's environment lacks ${name}`,
      );
  });
});
