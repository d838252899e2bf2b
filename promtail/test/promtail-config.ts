// Reads promtail/promtail.yaml into the agent model. Strict: a stage, a key or a `$` form this reader
// does not know is an error, so a config change the tests cannot interpret fails them instead of passing.
import { readFileSync } from "node:fs";
import YAML from "yaml";
import {
  literal,
  relabelDefaults,
  type AgentModel,
  type FileTarget,
  type LabelValue,
  type RelabelRule,
  type Stage,
} from "./agent-model.ts";

export const promtailPath = new URL("../promtail.yaml", import.meta.url).pathname;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what} must be a mapping`);
  return v;
}
function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what} must be a list`);
  return v;
}
function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`${what} must be a string, found ${JSON.stringify(v)}`);
  return v;
}
function onlyKeys(o: Obj, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      throw new Error(`${what}: unknown key ${k} (this reader knows ${allowed.join(", ")})`);
}

const envRef = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}$\\]*))?\}$/;

/**
 * A value after Promtail's -config.expand-env: `${VAR}` / `${VAR:-default}` as a whole value becomes an
 * environment label value; any other `$` is refused (envsubst would rewrite it, e.g. a regex's `$1`).
 */
export function labelValue(raw: string, what: string): LabelValue {
  const m = envRef.exec(raw);
  if (m) return { kind: "env", name: m[1]!, default: m[2] ?? "" };
  if (raw.includes("$"))
    throw new Error(`${what}: ${JSON.stringify(raw)} holds a $ that -config.expand-env rewrites`);
  return literal(raw);
}

/**
 * The config text as Promtail sees it with -config.expand-env=true. Only the forms the config may use are
 * accepted: a backslash or a bare `$` would be altered by envsubst, so they are errors here.
 */
export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): string {
  const lines = text.split("\n");
  // Comments too: envsubst runs over the whole text, and a stray `${` there stops Promtail at start.
  lines.forEach((code, i) => {
    if (code.includes("\\"))
      throw new Error(`promtail.yaml line ${i + 1}: a backslash is halved by -config.expand-env`);
    const rest = code.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}$\\]*)?\}/g, "");
    if (rest.includes("$"))
      throw new Error(`promtail.yaml line ${i + 1}: a $ that -config.expand-env rewrites`);
  });
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}$\\]*))?\}/g,
    (_m, name: string, def?: string) => {
      const v = env[name];
      return v === undefined || v === "" ? (def ?? "") : v;
    },
  );
}

function stringMap(v: unknown, what: string, allowNullValues = false): Record<string, string> {
  const o = obj(v, what);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    // `level:` with no value means "from the extracted key of the same name".
    if (val === null && allowNullValues) out[k] = k;
    else out[k] = str(val, `${what}.${k}`);
  }
  return out;
}

/** One pipeline stage from Promtail's YAML form. */
export function readStage(raw: unknown, what: string): Stage {
  const o = obj(raw, what);
  const keys = Object.keys(o);
  if (keys.length !== 1)
    throw new Error(`${what}: a stage is a mapping with one key, found ${keys.join(", ")}`);
  const type = keys[0]!;
  const cfg = o[type];
  switch (type) {
    case "json": {
      const c = obj(cfg, `${what}.json`);
      onlyKeys(c, ["expressions", "source", "drop_malformed"], `${what}.json`);
      const expressions: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj(c.expressions, `${what}.json.expressions`)))
        expressions[k] = v === null || v === "" ? k : str(v, `${what}.json.expressions.${k}`);
      const dm = c.drop_malformed ?? false;
      if (typeof dm !== "boolean") throw new Error(`${what}.json.drop_malformed must be a boolean`);
      return {
        type: "json",
        expressions,
        dropMalformed: dm,
        ...(c.source === undefined ? {} : { source: str(c.source, `${what}.json.source`) }),
      };
    }
    case "regex": {
      const c = obj(cfg, `${what}.regex`);
      onlyKeys(c, ["expression", "source"], `${what}.regex`);
      return {
        type: "regex",
        expression: str(c.expression, `${what}.regex.expression`),
        ...(c.source === undefined ? {} : { source: str(c.source, `${what}.regex.source`) }),
      };
    }
    case "template": {
      const c = obj(cfg, `${what}.template`);
      onlyKeys(c, ["source", "template"], `${what}.template`);
      return {
        type: "template",
        source: str(c.source, `${what}.template.source`),
        template: str(c.template, `${what}.template.template`),
      };
    }
    case "labels":
      return { type: "labels", values: stringMap(cfg, `${what}.labels`, true) };
    case "static_labels":
      return { type: "static_labels", values: stringMap(cfg, `${what}.static_labels`) };
    case "multiline": {
      const c = obj(cfg, `${what}.multiline`);
      onlyKeys(c, ["firstline", "max_wait_time", "max_lines"], `${what}.multiline`);
      const maxLines = c.max_lines ?? 128;
      if (typeof maxLines !== "number" || !Number.isInteger(maxLines) || maxLines < 1)
        throw new Error(`${what}.multiline.max_lines must be a positive integer`);
      return {
        type: "multiline",
        firstline: str(c.firstline, `${what}.multiline.firstline`),
        maxWaitTime:
          c.max_wait_time === undefined ? "3s" : str(c.max_wait_time, `${what}.multiline.max_wait_time`),
        maxLines,
      };
    }
    case "timestamp": {
      const c = obj(cfg, `${what}.timestamp`);
      onlyKeys(c, ["source", "format", "action_on_failure"], `${what}.timestamp`);
      const action = c.action_on_failure ?? "fudge";
      if (action !== "fudge" && action !== "skip")
        throw new Error(`${what}.timestamp.action_on_failure must be fudge or skip`);
      return {
        type: "timestamp",
        source: str(c.source, `${what}.timestamp.source`),
        format: str(c.format, `${what}.timestamp.format`),
        actionOnFailure: action,
        actionOnDuplicate: "keep",
      };
    }
    default:
      throw new Error(`${what}: stage ${type} is not one this reader interprets`);
  }
}

function readRelabel(raw: unknown, what: string): RelabelRule {
  const o = obj(raw, what);
  onlyKeys(o, ["source_labels", "separator", "regex", "target_label", "replacement", "action"], what);
  const action = o.action ?? "replace";
  if (action !== "replace")
    throw new Error(`${what}: action ${JSON.stringify(action)} is not one this reader interprets`);
  return {
    action: "replace",
    sourceLabels: o.source_labels === undefined ? [] : list(o.source_labels, what).map((s) => str(s, what)),
    separator: o.separator === undefined ? relabelDefaults.separator : str(o.separator, what),
    regex: o.regex === undefined ? relabelDefaults.regex : str(o.regex, what),
    targetLabel: str(o.target_label, `${what}.target_label`),
    // The default `$1` is Promtail's own, not text envsubst sees.
    replacement:
      o.replacement === undefined
        ? literal(relabelDefaults.replacement)
        : labelValue(str(o.replacement, what), `${what}.replacement`),
  };
}

/** Reads the config (YAML anchors resolved: the container job shares the file job's pipeline). */
export function readPromtail(text: string): AgentModel {
  const doc = YAML.parse(text, { merge: false }) as unknown;
  const root = obj(doc, "promtail.yaml");
  const positions = obj(root.positions, "positions");
  const clients = list(root.clients, "clients");
  if (clients.length !== 1) throw new Error(`expected one client, found ${clients.length}`);
  const scrape = list(root.scrape_configs, "scrape_configs").map((s, i) => obj(s, `scrape_configs[${i}]`));

  const fileJobs = scrape.filter((s) => s.static_configs !== undefined);
  const dockerJobs = scrape.filter((s) => s.docker_sd_configs !== undefined);
  if (fileJobs.length !== 1 || dockerJobs.length !== 1 || scrape.length !== 2)
    throw new Error("expected one static (file) job and one docker_sd job");
  const fileJob = fileJobs[0]!;
  const dockerJob = dockerJobs[0]!;
  onlyKeys(fileJob, ["job_name", "static_configs", "pipeline_stages"], "file job");
  onlyKeys(dockerJob, ["job_name", "docker_sd_configs", "relabel_configs", "pipeline_stages"], "docker job");

  const files: FileTarget[] = list(fileJob.static_configs, "static_configs").map((sc, i) => {
    const c = obj(sc, `static_configs[${i}]`);
    onlyKeys(c, ["targets", "labels"], `static_configs[${i}]`);
    const labels: Record<string, LabelValue> = {};
    let path: string | undefined;
    for (const [k, v] of Object.entries(obj(c.labels, `static_configs[${i}].labels`))) {
      const s = str(v, `static_configs[${i}].labels.${k}`);
      if (k === "__path__") path = s;
      else labels[k] = labelValue(s, `static_configs[${i}].labels.${k}`);
    }
    if (!path) throw new Error(`static_configs[${i}] has no __path__`);
    return { path, labels };
  });

  const sds = list(dockerJob.docker_sd_configs, "docker_sd_configs");
  if (sds.length !== 1) throw new Error("expected one docker_sd_config");
  const sd = obj(sds[0], "docker_sd_configs[0]");
  onlyKeys(sd, ["host", "refresh_interval"], "docker_sd_configs[0]");

  const client = obj(clients[0], "clients[0]");
  return {
    files,
    filePipeline: list(fileJob.pipeline_stages, "file job pipeline_stages").map((s, i) =>
      readStage(s, `file job pipeline_stages[${i}]`),
    ),
    docker: {
      host: str(sd.host, "docker_sd_configs[0].host"),
      refreshInterval:
        sd.refresh_interval === undefined ? "60s" : str(sd.refresh_interval, "refresh_interval"),
      relabel: list(dockerJob.relabel_configs ?? [], "relabel_configs").map((r, i) =>
        readRelabel(r, `relabel_configs[${i}]`),
      ),
    },
    dockerPipeline: list(dockerJob.pipeline_stages, "docker job pipeline_stages").map((s, i) =>
      readStage(s, `docker job pipeline_stages[${i}]`),
    ),
    pushUrl: str(client.url, "clients[0].url"),
    positionsFile: str(positions.filename, "positions.filename"),
  };
}

export const loadPromtail = (): AgentModel => readPromtail(readFileSync(promtailPath, "utf8"));
