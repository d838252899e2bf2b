// Reads compose.yaml for the mounts the logging configs depend on; the tests say what is missing in
// terms of the paths these configs use.
import { readFileSync } from "node:fs";
import YAML from "yaml";

const composePath = new URL("../../compose.yaml", import.meta.url).pathname;

export interface ComposeService {
  readonly volumes?: readonly (string | Record<string, unknown>)[];
  readonly command?: unknown;
  readonly [key: string]: unknown;
}
export interface Compose {
  readonly services: Record<string, ComposeService>;
  readonly volumes?: Record<string, unknown>;
}

export interface Mount {
  readonly type: "volume" | "bind" | "other";
  readonly source?: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export function loadCompose(): Compose {
  const doc = YAML.parse(readFileSync(composePath, "utf8")) as Compose;
  if (!doc || typeof doc.services !== "object") throw new Error("compose.yaml has no services");
  return doc;
}

export function composeService(compose: Compose, name: string): ComposeService {
  const s = compose.services[name];
  if (!s) throw new Error(`compose.yaml has no service ${name}`);
  return s;
}

/** A service's mounts in one form (short `src:dst[:ro]` and long syntax); named volumes must be declared. */
export function mountsOf(compose: Compose, service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    let m: Mount;
    if (typeof v === "string") {
      // Interpolation as compose does it with nothing set: ${VAR:-default} is the default.
      const [source, target, mode] = v
        .replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_m, d?: string) => d ?? "")
        .split(":");
      if (target === undefined)
        m = { type: "volume", target: source!, readOnly: false }; // anonymous
      else
        m = {
          type: /^[./~]/.test(source!) ? "bind" : "volume",
          source: source!,
          target,
          readOnly: (mode ?? "").split(",").includes("ro"),
        };
    } else {
      const type = v.type === "volume" || v.type === "bind" ? v.type : "other";
      m = {
        type,
        ...(typeof v.source === "string" ? { source: v.source } : {}),
        target: String(v.target),
        readOnly: v.read_only === true,
      };
    }
    if (m.type === "volume" && m.source !== undefined && !(compose.volumes && m.source in compose.volumes))
      throw new Error(`compose.yaml: volume ${m.source} is used but not declared under volumes`);
    return m;
  });
}
