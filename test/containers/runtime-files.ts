// The files our three programs read beside their own code at run time (`new URL("<path>",
// import.meta.url)`), and whether each image holds them where the compiled code looks.
//
// Natively these reads resolve from the sources (demo/src/scans.ts -> ../../exporter/sql/scans.sql, as
// the demo once read its DDL); in an image they resolve from dist/ (dist/demo/src/scans.js ->
// dist/exporter/sql/scans.sql), and only what the Dockerfile copies or tsc emits is there: tsc emits .js
// for every .ts and a JSON file only when a module imports it. `ops report` failed with ENOENT in the
// ops image for that reason. Today no program makes such a read: what they need is a module.
//
// imageFiles() models what a Dockerfile puts into its last stage from the build context (the files of
// the repository, less the applicable .dockerignore): COPY from the context and from other stages, and
// the build stage's `tsc -p tsconfig.build.json` (its include list, less *.test.ts, plus the JSON files
// the compiled modules import). runtimeReads() finds every import.meta in the sources an image
// compiles; a use other than `new URL("<literal>", import.meta.url)` cannot be resolved statically and
// is reported as a problem, so a new kind of read cannot slip past. The container tests then check the
// same paths inside the built images (runtimeReadsInImages).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";

export const repoRoot = new URL("../..", import.meta.url).pathname;

/** Our three images: compose's service name, its image and Dockerfile. */
export const ourImages = [
  { service: "exporter", image: "kali-agents-exporter:local", dockerfile: "exporter/Dockerfile" },
  { service: "ops", image: "kali-agents-ops:local", dockerfile: "ops/Dockerfile" },
  { service: "demo", image: "kali-agents-demo:local", dockerfile: "demo/Dockerfile" },
] as const;

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The Dockerfile's instructions: continuation lines joined, comments and blank lines dropped. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (pending !== "" && line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
  }
  return out;
}

/** A .dockerignore pattern as a regular expression on a context-relative path. */
function ignoreRegex(pattern: string): RegExp {
  let p = pattern.replace(/^\/+/, "").replace(/\/+$/, "");
  p = posix.normalize(p);
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*" && p[i + 1] === "*") {
      re += p[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += p[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether the ignore file keeps `path` out of the context (a pattern matching a parent folder counts). */
export function ignored(patterns: readonly string[], path: string): boolean {
  const parts = path.split("/");
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let out = false;
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const re = ignoreRegex(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) out = !negate;
  }
  return out;
}

function ignorePatterns(root: string, dockerfile: string): string[] {
  // BuildKit prefers <Dockerfile>.dockerignore beside the Dockerfile to the context's .dockerignore.
  const own = join(root, `${dockerfile}.dockerignore`);
  const file = existsSync(own) ? own : join(root, ".dockerignore");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The repository's files: tracked and new ones, not those git ignores (node_modules, dist, secrets). */
export function repositoryFiles(root: string): string[] {
  return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: root,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(root, f)));
}

/** The build context's files: the repository's, less the Dockerfile's .dockerignore. */
export function contextFiles(root: string, dockerfile: string): string[] {
  const patterns = ignorePatterns(root, dockerfile);
  return repositoryFiles(root).filter((f) => !ignored(patterns, f));
}

/** tsconfig.build.json's include globs, less its excludes, as a test on a relative .ts path. */
function tscIncludes(root: string): (path: string) => boolean {
  const cfg = JSON.parse(readFileSync(join(root, "tsconfig.build.json"), "utf8")) as {
    include: string[];
    exclude?: string[];
  };
  const inc = cfg.include.map(ignoreRegex);
  const exc = (cfg.exclude ?? []).map(ignoreRegex);
  return (p) => {
    const prefixes = p.split("/").map((_, i, a) => a.slice(0, i + 1).join("/"));
    return inc.some((r) => r.test(p)) && !exc.some((r) => prefixes.some((q) => r.test(q)));
  };
}

/** The JSON files a module imports statically (tsc emits those beside the .js). */
function importedJson(source: string): string[] {
  return [...source.matchAll(/\bfrom\s+["']([^"']+\.json)["']/g)].map((m) => m[1]!);
}

type Stage = Map<string, string>; // absolute path in the image -> context-relative source path

interface ImageModel {
  /** Every modelled file of the last stage, by absolute path, with the repository file it comes from. */
  readonly files: Stage;
  /** The repository's .ts files compiled into the image (their .js is under dist/). */
  readonly compiled: string[];
  /** The last stage's working directory. */
  readonly workdir: string;
}

function unquote(s: string): string {
  return s.replace(/^["']|["']$/g, "");
}

/** What the Dockerfile's last stage holds of the build context, modelled from its instructions. */
export function imageFiles(root: string, dockerfile: string): ImageModel {
  const context = contextFiles(root, dockerfile);
  const includes = tscIncludes(root);
  const stages = new Map<string, { files: Stage; workdir: string }>();
  let current: { files: Stage; workdir: string } = { files: new Map(), workdir: "/" };
  const compiled = new Set<string>();
  let index = 0;
  for (const ins of instructions(readFileSync(join(root, dockerfile), "utf8"))) {
    if (ins.op === "FROM") {
      current = { files: new Map(), workdir: "/" };
      const name = /\bAS\s+(\S+)/i.exec(ins.args)?.[1];
      stages.set(String(index++), current);
      if (name) stages.set(name.toLowerCase(), current);
    } else if (ins.op === "WORKDIR") {
      current.workdir = posix.resolve(current.workdir, unquote(ins.args));
    } else if (ins.op === "COPY" || ins.op === "ADD") {
      const words = ins.args.split(/\s+/).map(unquote);
      const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
      const paths = words.filter((w) => !w.startsWith("--"));
      const dest = posix.resolve(current.workdir, paths.at(-1)!);
      const destIsDir = paths.length > 2 || paths.at(-1)!.endsWith("/");
      for (const src of paths.slice(0, -1)) {
        if (from !== undefined) {
          const stage = stages.get(from.toLowerCase());
          if (!stage) continue; // an external image: nothing of ours in it
          const abs = posix.resolve(stage.workdir, src);
          for (const [path, origin] of stage.files) {
            if (path === abs)
              current.files.set(destIsDir ? posix.join(dest, posix.basename(abs)) : dest, origin);
            else if (path.startsWith(abs + "/"))
              current.files.set(posix.join(dest, path.slice(abs.length + 1)), origin);
          }
        } else {
          const rel = posix
            .normalize(src)
            .replace(/^\.\/?/, "")
            .replace(/\/$/, "");
          for (const f of context) {
            if (f === rel) current.files.set(destIsDir ? posix.join(dest, posix.basename(f)) : dest, f);
            else if (rel === "" || f.startsWith(rel + "/"))
              current.files.set(posix.join(dest, rel === "" ? f : f.slice(rel.length + 1)), f);
          }
        }
      }
    } else if (ins.op === "RUN" && /\btsc\b.*-p\s+tsconfig\.build\.json/.test(ins.args)) {
      // tsc's outDir is dist/ under the working directory, rootDir the working directory.
      for (const [path, origin] of [...current.files]) {
        if (!path.startsWith(current.workdir + "/")) continue;
        const rel = path.slice(current.workdir.length + 1);
        if (!rel.endsWith(".ts") || rel.endsWith(".d.ts") || !includes(rel)) continue;
        compiled.add(origin);
        current.files.set(posix.join(current.workdir, "dist", rel.replace(/\.ts$/, ".js")), origin);
        for (const spec of importedJson(readFileSync(join(root, origin), "utf8"))) {
          const json = posix.join(posix.dirname(rel), spec);
          const jsonOrigin = current.files.get(posix.join(current.workdir, json));
          if (jsonOrigin) current.files.set(posix.join(current.workdir, "dist", json), jsonOrigin);
        }
      }
    }
  }
  const last = current;
  const inLast = new Set([...last.files.values()]);
  return {
    files: last.files,
    compiled: [...compiled].filter((f) => inLast.has(f)).sort(),
    workdir: last.workdir,
  };
}

export interface RuntimeRead {
  /** The source that reads it, and the line. */
  readonly source: string;
  readonly line: number;
  /** The literal as written, e.g. ../../exporter/sql/scans.sql. */
  readonly literal: string;
  /** Where the compiled code looks for it in the image (under dist/). */
  readonly imagePath: string;
}

export interface ImageReads {
  readonly dockerfile: string;
  readonly reads: RuntimeRead[];
  /** The reads the image does not hold, and the uses of import.meta that cannot be resolved. */
  readonly problems: string[];
}

/** Every file read through import.meta by the code an image runs, and whether the image holds it. */
export function runtimeReads(root: string, dockerfile: string): ImageReads {
  const model = imageFiles(root, dockerfile);
  const reads: RuntimeRead[] = [];
  const problems: string[] = [];
  if (model.compiled.length === 0)
    problems.push(`${dockerfile}: no TypeScript compiled into the image was found`);
  for (const source of model.compiled) {
    const lines = readFileSync(join(root, source), "utf8").split("\n");
    lines.forEach((line, i) => {
      // Comments name import.meta.url too; only code counts.
      const text = /^\s*(\/\/|\/?\*)/.test(line) ? "" : line.replace(/\s\/\/ .*$/, "");
      const uses = [...text.matchAll(/import\.meta(?:\.\w+)?|__dirname|__filename/g)];
      if (uses.length === 0) return;
      const urls = [...text.matchAll(/new URL\(\s*(["'])([^"']+)\1\s*,\s*import\.meta\.url\s*\)/g)];
      if (urls.length !== uses.length) {
        problems.push(
          `${source}:${i + 1}: import.meta used other than as new URL("<literal path>", import.meta.url); the test cannot tell what it reads`,
        );
      }
      for (const m of urls) {
        const jsFile = posix.join(model.workdir, "dist", source.replace(/\.ts$/, ".js"));
        const imagePath = posix.resolve(posix.dirname(jsFile), m[2]!);
        reads.push({ source, line: i + 1, literal: m[2]!, imagePath });
        if (!model.files.has(imagePath)) {
          problems.push(
            `${dockerfile}: ${source}:${i + 1} reads ${m[2]} beside its code, ${imagePath} in the image, which the image does not hold`,
          );
        }
      }
    });
  }
  return { dockerfile, reads, problems };
}
