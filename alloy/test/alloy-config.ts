// Reads alloy/config.alloy into the same agent model as promtail.yaml, following the components' wiring
// (targets and forward_to references). Strict like the Promtail reader: an unknown component, stage,
// attribute or dangling reference is an error.
import { readFileSync } from "node:fs";
import {
  literal,
  relabelDefaults,
  type AgentModel,
  type FileTarget,
  type LabelValue,
  type RelabelRule,
  type Stage,
} from "../../promtail/test/agent-model.ts";
import {
  asList,
  asObject,
  asRef,
  asString,
  attr,
  block,
  parseAlloy,
  requireAttr,
  type AlloyBlock,
  type AlloyStatement,
  type AlloyValue,
} from "./alloy-syntax.ts";

export const alloyPath = new URL("../config.alloy", import.meta.url).pathname;

const knownComponents = new Set([
  "local.file_match",
  "loki.source.file",
  "discovery.docker",
  "discovery.relabel",
  "loki.source.docker",
  "loki.process",
  "loki.write",
]);

function onlyAttrs(b: AlloyBlock, allowed: readonly string[], allowedBlocks: readonly string[] = []): void {
  for (const s of b.body) {
    if (s.kind === "attribute" && !allowed.includes(s.name))
      throw new Error(`${b.name} (line ${s.line}): attribute ${s.name} is not one this reader interprets`);
    if (s.kind === "block" && !allowedBlocks.includes(s.name))
      throw new Error(`${b.name} (line ${s.line}): block ${s.name} is not one this reader interprets`);
  }
}

/** A label value: a string, or coalesce(sys.env("VAR"), "default"). */
export function labelValue(v: AlloyValue, what: string): LabelValue {
  if (v.type === "string") return literal(v.value);
  if (v.type === "call" && v.name === "coalesce" && v.args.length === 2) {
    const [env, def] = v.args as [AlloyValue, AlloyValue];
    if (
      env.type === "call" &&
      env.name === "sys.env" &&
      env.args.length === 1 &&
      env.args[0]!.type === "string"
    )
      return { kind: "env", name: env.args[0]!.value, default: asString(def, `${what} default`) };
  }
  throw new Error(`${what}: only strings and coalesce(sys.env("VAR"), "default") are interpreted`);
}

/** `a.b.label.export` -> the component block it names. */
function component(body: readonly AlloyStatement[], ref: string, exportName: string): AlloyBlock {
  const parts = ref.split(".");
  if (parts.length < 4 || parts[parts.length - 1] !== exportName)
    throw new Error(`reference ${ref} is not <component>.<label>.${exportName}`);
  const label = parts[parts.length - 2]!;
  const name = parts.slice(0, -2).join(".");
  return block(body, name, label);
}

function stringMap(v: AlloyValue, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of asObject(v, what)) out[k] = asString(val, `${what}.${k}`);
  return out;
}

function readStage(b: AlloyBlock): Stage {
  const what = `${b.name} (line ${b.line})`;
  switch (b.name) {
    case "stage.json": {
      onlyAttrs(b, ["expressions", "source", "drop_malformed"]);
      const expressions: Record<string, string> = {};
      for (const [k, e] of Object.entries(stringMap(requireAttr(b, "expressions"), `${what} expressions`)))
        expressions[k] = e === "" ? k : e;
      const dm = attr(b, "drop_malformed");
      if (dm !== undefined && dm.type !== "bool") throw new Error(`${what}: drop_malformed must be a bool`);
      const source = attr(b, "source");
      return {
        type: "json",
        expressions,
        dropMalformed: dm?.value ?? false,
        ...(source === undefined ? {} : { source: asString(source, `${what} source`) }),
      };
    }
    case "stage.regex": {
      onlyAttrs(b, ["expression", "source"]);
      const source = attr(b, "source");
      return {
        type: "regex",
        expression: asString(requireAttr(b, "expression"), `${what} expression`),
        ...(source === undefined ? {} : { source: asString(source, `${what} source`) }),
      };
    }
    case "stage.template":
      onlyAttrs(b, ["source", "template"]);
      return {
        type: "template",
        source: asString(requireAttr(b, "source"), `${what} source`),
        template: asString(requireAttr(b, "template"), `${what} template`),
      };
    case "stage.labels": {
      onlyAttrs(b, ["values"]);
      const values = stringMap(requireAttr(b, "values"), `${what} values`);
      // An empty source means the extracted key of the same name.
      return {
        type: "labels",
        values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v || k])),
      };
    }
    case "stage.static_labels":
      onlyAttrs(b, ["values"]);
      return { type: "static_labels", values: stringMap(requireAttr(b, "values"), `${what} values`) };
    case "stage.multiline": {
      onlyAttrs(b, ["firstline", "max_wait_time", "max_lines"]);
      const max = attr(b, "max_lines");
      if (max !== undefined && (max.type !== "number" || !Number.isInteger(max.value) || max.value < 1))
        throw new Error(`${what}: max_lines must be a positive integer`);
      const wait = attr(b, "max_wait_time");
      return {
        type: "multiline",
        firstline: asString(requireAttr(b, "firstline"), `${what} firstline`),
        maxWaitTime: wait === undefined ? "3s" : asString(wait, `${what} max_wait_time`),
        maxLines: max?.value ?? 128,
      };
    }
    case "stage.timestamp": {
      onlyAttrs(b, ["source", "format", "action_on_failure", "action_on_duplicate_timestamp"]);
      const onFailure = attr(b, "action_on_failure");
      const onDup = attr(b, "action_on_duplicate_timestamp");
      const failure = onFailure === undefined ? "fudge" : asString(onFailure, `${what} action_on_failure`);
      const dup = onDup === undefined ? "fudge" : asString(onDup, `${what} action_on_duplicate_timestamp`);
      if (failure !== "fudge" && failure !== "skip") throw new Error(`${what}: action_on_failure ${failure}`);
      if (dup !== "fudge" && dup !== "keep") throw new Error(`${what}: action_on_duplicate_timestamp ${dup}`);
      return {
        type: "timestamp",
        source: asString(requireAttr(b, "source"), `${what} source`),
        format: asString(requireAttr(b, "format"), `${what} format`),
        actionOnFailure: failure,
        actionOnDuplicate: dup,
      };
    }
    default:
      throw new Error(`${what}: stage ${b.name} is not one this reader interprets`);
  }
}

/** Follows forward_to through loki.process components to one loki.write; returns the stages met. */
function followPipeline(
  body: readonly AlloyStatement[],
  from: AlloyBlock,
): { stages: Stage[]; write: AlloyBlock } {
  const stages: Stage[] = [];
  let current = from;
  for (let hops = 0; hops < 10; hops++) {
    const targets = asList(requireAttr(current, "forward_to"), `${current.name} forward_to`);
    if (targets.length !== 1)
      throw new Error(`${current.name} "${current.label}": expected one forward_to receiver`);
    const next = component(body, asRef(targets[0]!, "forward_to"), "receiver");
    if (next.name === "loki.write") return { stages, write: next };
    if (next.name !== "loki.process") throw new Error(`forward_to ${next.name} is not interpreted`);
    onlyAttrs(
      next,
      ["forward_to"],
      [...new Set(next.body.filter((s) => s.kind === "block").map((s) => s.name))],
    );
    for (const s of next.body) if (s.kind === "block") stages.push(readStage(s));
    current = next;
  }
  throw new Error("forward_to chain too long (a loop?)");
}

export function readAlloy(text: string): AgentModel {
  const body = parseAlloy(text, "config.alloy");
  for (const s of body) {
    if (s.kind !== "block") throw new Error(`config.alloy line ${s.line}: top-level attribute ${s.name}`);
    if (!knownComponents.has(s.name))
      throw new Error(`config.alloy line ${s.line}: component ${s.name} is not interpreted`);
    if (s.label === undefined) throw new Error(`config.alloy line ${s.line}: ${s.name} has no label`);
  }

  // Files: loki.source.file <- local.file_match
  const source = block(body, "loki.source.file");
  onlyAttrs(source, ["targets", "forward_to", "legacy_positions_file"]);
  const match = component(body, asRef(requireAttr(source, "targets"), "loki.source.file targets"), "targets");
  onlyAttrs(match, ["path_targets"]);
  const files: FileTarget[] = asList(requireAttr(match, "path_targets"), "path_targets").map((t, i) => {
    const labels: Record<string, LabelValue> = {};
    let path: string | undefined;
    for (const [k, v] of asObject(t, `path_targets[${i}]`)) {
      if (k === "__path__") path = asString(v, `path_targets[${i}].__path__`);
      else labels[k] = labelValue(v, `path_targets[${i}].${k}`);
    }
    if (!path) throw new Error(`path_targets[${i}] has no __path__`);
    return { path, labels };
  });
  const filePath = followPipeline(body, source);
  const legacy = attr(source, "legacy_positions_file");
  if (legacy === undefined) throw new Error("loki.source.file: legacy_positions_file is missing");

  // Containers: loki.source.docker <- discovery.docker, relabel rules from discovery.relabel
  const docker = block(body, "loki.source.docker");
  onlyAttrs(docker, ["host", "targets", "relabel_rules", "forward_to"]);
  const discovery = component(
    body,
    asRef(requireAttr(docker, "targets"), "loki.source.docker targets"),
    "targets",
  );
  if (discovery.name !== "discovery.docker")
    throw new Error("loki.source.docker targets must come from discovery.docker");
  onlyAttrs(discovery, ["host", "refresh_interval"]);
  const relabelBlock = component(body, asRef(requireAttr(docker, "relabel_rules"), "relabel_rules"), "rules");
  onlyAttrs(relabelBlock, ["targets"], ["rule"]);
  const relabel: RelabelRule[] = relabelBlock.body
    .filter((s): s is AlloyBlock => s.kind === "block")
    .map((r) => {
      onlyAttrs(r, ["source_labels", "separator", "regex", "target_label", "replacement", "action"]);
      const action = attr(r, "action");
      if (action !== undefined && asString(action, "rule action") !== "replace")
        throw new Error(`rule (line ${r.line}): only action replace is interpreted`);
      const opt = (name: string, def: string) => {
        const v = attr(r, name);
        return v === undefined ? def : asString(v, `rule ${name}`);
      };
      const src = attr(r, "source_labels");
      const replacement = attr(r, "replacement");
      return {
        action: "replace" as const,
        sourceLabels:
          src === undefined ? [] : asList(src, "source_labels").map((s) => asString(s, "source_labels")),
        separator: opt("separator", relabelDefaults.separator),
        regex: opt("regex", relabelDefaults.regex),
        targetLabel: asString(requireAttr(r, "target_label"), "target_label"),
        replacement:
          replacement === undefined
            ? literal(relabelDefaults.replacement)
            : labelValue(replacement, `rule (line ${r.line}) replacement`),
      };
    });
  const host = asString(requireAttr(docker, "host"), "loki.source.docker host");
  if (asString(requireAttr(discovery, "host"), "discovery.docker host") !== host)
    throw new Error("discovery.docker and loki.source.docker read different Docker hosts");
  const refresh = attr(discovery, "refresh_interval");
  const dockerPath = followPipeline(body, docker);

  if (filePath.write !== dockerPath.write)
    throw new Error("files and containers go to different loki.write components");
  const write = filePath.write;
  onlyAttrs(write, [], ["endpoint"]);
  const endpoint = block(write.body, "endpoint");
  onlyAttrs(endpoint, ["url"]);

  return {
    files,
    filePipeline: filePath.stages,
    docker: {
      host,
      refreshInterval: refresh === undefined ? "60s" : asString(refresh, "refresh_interval"),
      relabel,
    },
    dockerPipeline: dockerPath.stages,
    pushUrl: asString(requireAttr(endpoint, "url"), "endpoint url"),
    positionsFile: asString(legacy, "legacy_positions_file"),
  };
}

export const loadAlloy = (): AgentModel => readAlloy(readFileSync(alloyPath, "utf8"));
