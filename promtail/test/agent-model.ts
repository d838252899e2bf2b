// What a log agent's configuration means, in one form that both promtail/promtail.yaml and
// alloy/config.alloy are read into (promtail-config.ts, alloy/test/alloy-config.ts). The tests compare the
// two models, compute the labels each attaches, and run sample lines through the pipeline (pipeline.ts).

/** A label value: fixed, or taken from an environment variable with a default. */
export type LabelValue =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "env"; readonly name: string; readonly default: string };

export const literal = (value: string): LabelValue => ({ kind: "literal", value });

export function resolveLabel(v: LabelValue, env: Readonly<Record<string, string | undefined>>): string {
  if (v.kind === "literal") return v.value;
  const set = env[v.name];
  // Both `${VAR:-default}` (Promtail) and coalesce(sys.env("VAR"), default) (Alloy) take the default
  // when the variable is unset or empty.
  return set === undefined || set === "" ? v.default : set;
}

export const showLabel = (v: LabelValue): string =>
  v.kind === "literal" ? JSON.stringify(v.value) : `env ${v.name} (default ${JSON.stringify(v.default)})`;

/** A Prometheus-style relabel rule (action replace is the only one the configs use). */
export interface RelabelRule {
  readonly action: "replace";
  readonly sourceLabels: readonly string[];
  readonly separator: string;
  readonly regex: string;
  readonly targetLabel: string;
  readonly replacement: LabelValue;
}

export type Stage =
  /**
   * Joins a line that does not match `firstline` (a traceback's lines) to the entry before it, with
   * "\n", up to `maxLines` lines; an entry is sent when the next first line comes or after `maxWaitTime`
   * without one. It runs before the other stages: Pipeline.assemble applies it to a file's lines.
   */
  | {
      readonly type: "multiline";
      readonly firstline: string;
      readonly maxWaitTime: string;
      readonly maxLines: number;
    }
  | {
      readonly type: "json";
      readonly expressions: Readonly<Record<string, string>>;
      readonly source?: string;
      readonly dropMalformed: boolean;
    }
  /** Go RE2 syntax; named groups become extracted values. */
  | { readonly type: "regex"; readonly expression: string; readonly source?: string }
  | { readonly type: "template"; readonly source: string; readonly template: string }
  /** label name -> extracted key */
  | { readonly type: "labels"; readonly values: Readonly<Record<string, string>> }
  | { readonly type: "static_labels"; readonly values: Readonly<Record<string, string>> }
  | {
      readonly type: "timestamp";
      readonly source: string;
      readonly format: string;
      readonly actionOnFailure: "fudge" | "skip";
      /** Promtail has no such setting and keeps duplicates as they are ("keep"). */
      readonly actionOnDuplicate: "fudge" | "keep";
    };

export interface FileTarget {
  readonly path: string;
  /** Labels given to the target (without `__path__`); the agent adds `filename` itself. */
  readonly labels: Readonly<Record<string, LabelValue>>;
}

export interface AgentModel {
  readonly files: readonly FileTarget[];
  readonly filePipeline: readonly Stage[];
  readonly docker: {
    readonly host: string;
    readonly refreshInterval: string;
    readonly relabel: readonly RelabelRule[];
  };
  readonly dockerPipeline: readonly Stage[];
  readonly pushUrl: string;
  /** Where read offsets persist (Promtail's positions file; Alloy's import of it). */
  readonly positionsFile: string;
}

/** Default values of a relabel rule, as Prometheus (and both agents) define them. */
export const relabelDefaults = { separator: ";", regex: "(.*)", replacement: "$1" } as const;
