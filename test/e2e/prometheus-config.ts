// prometheus/prometheus.yml, rewritten for the native end-to-end test and nothing more: every target
// to the local port of its process, the rule-file globs to absolute paths (the config runs from a
// temporary folder), the jobs of what cannot run here removed, and shorter scrape and evaluation
// intervals so that `for` clauses, not the intervals, dominate the time to an alert. Every change is
// listed in `changes`, which the test prints.
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { parse, stringify } from "yaml";
import { jobs } from "../../definitions/selectors.ts";

export interface LocalPrometheus {
  /** Local `host:port` for each scrape job that stays; a job that is neither here nor removed is an error. */
  readonly targets: Readonly<Record<string, string>>;
  /** Jobs whose process cannot run where the tests run (Loki, Promtail, Grafana). */
  readonly removeJobs: readonly string[];
  readonly alertmanager: string;
  /** Where prometheus.yml lives: relative rule files and file_sd files are resolved against it. */
  readonly configPath: string;
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
}

export interface Rewritten {
  readonly yaml: string;
  /** file_sd files to write beside the rewritten config: name -> content. */
  readonly files: Record<string, string>;
  readonly changes: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function rewritePrometheusConfig(source: string, o: LocalPrometheus): Rewritten {
  const doc = parse(source) as Obj;
  const changes: string[] = [];
  const files: Record<string, string> = {};
  const base = dirname(o.configPath);

  const global = (doc.global ?? {}) as Obj;
  changes.push(
    `global.scrape_interval ${String(global.scrape_interval)} -> ${o.scrapeInterval}`,
    `global.evaluation_interval ${String(global.evaluation_interval)} -> ${o.evaluationInterval}`,
  );
  global.scrape_interval = o.scrapeInterval;
  global.evaluation_interval = o.evaluationInterval;
  // A timeout longer than the interval is refused by Prometheus.
  if (global.scrape_timeout !== undefined) {
    changes.push(`global.scrape_timeout ${JSON.stringify(global.scrape_timeout)} -> ${o.scrapeInterval}`);
    global.scrape_timeout = o.scrapeInterval;
  }
  doc.global = global;

  const retimed = retimeRuleFiles(
    ((doc.rule_files ?? []) as string[]).map((f) => (isAbsolute(f) ? f : join(base, f))),
    o.evaluationInterval,
  );
  doc.rule_files = retimed.paths;
  Object.assign(files, retimed.files);
  changes.push(...retimed.changes);
  changes.push(`rule_files resolved against ${base}`);

  const alerting = doc.alerting as Obj | undefined;
  // compose's Prometheus and Alertmanager ask for basic auth (--web.config.file); the test's local
  // processes run without it (test/compose/web-auth.test.ts runs them with it).
  const dropAuth = (o: Obj, what: string) => {
    if (o.basic_auth === undefined) return;
    delete o.basic_auth;
    changes.push(`${what}: basic_auth removed (the local servers run without --web.config.file)`);
  };
  for (const am of (alerting?.alertmanagers ?? []) as Obj[]) {
    dropAuth(am, "alerting");
    for (const sc of (am.static_configs ?? []) as Obj[]) {
      changes.push(`alertmanager ${JSON.stringify(sc.targets)} -> ${o.alertmanager}`);
      sc.targets = [o.alertmanager];
    }
  }

  const kept: Obj[] = [];
  for (const job of (doc.scrape_configs ?? []) as Obj[]) {
    const name = String(job.job_name);
    if (o.removeJobs.includes(name)) {
      changes.push(`job ${name} removed (its process cannot run here)`);
      continue;
    }
    const target = o.targets[name];
    if (target === undefined) {
      throw new Error(
        `prometheus.yml has a scrape job "${name}" that the end-to-end test neither runs nor removes: add it to test/e2e`,
      );
    }
    dropAuth(job, `job ${name}`);
    for (const sc of (job.static_configs ?? []) as Obj[]) {
      changes.push(`job ${name}: ${JSON.stringify(sc.targets)} -> ${target}`);
      sc.targets = [target];
    }
    for (const [i, sd] of ((job.file_sd_configs ?? []) as Obj[]).entries()) {
      const name2 = `${name}-targets-${i}.yml`;
      files[name2] = stringify([{ targets: [target] }]);
      changes.push(`job ${name}: file_sd ${JSON.stringify(sd.files)} -> ${name2} with ${target}`);
      sd.files = [name2];
    }
    if (!isObj(job) || (!job.static_configs && !job.file_sd_configs)) {
      throw new Error(
        `job ${name}: neither static_configs nor file_sd_configs, cannot point it at ${target}`,
      );
    }
    kept.push(job);
  }
  doc.scrape_configs = kept;
  return { yaml: stringify(doc, { aliasDuplicateObjects: false }), files, changes };
}

/**
 * Rule files for a test's Prometheus: a group with an interval of its own (5m, 1m) would first run
 * minutes into the test, so such files are copied (to be written beside the config, relative names in
 * `paths`) with the group's interval set to the test's; the others are read where they are.
 */
export function retimeRuleFiles(
  ruleFiles: readonly string[],
  interval: string,
): { paths: string[]; files: Record<string, string>; changes: string[] } {
  const files: Record<string, string> = {};
  const changes: string[] = [];
  const paths = ruleFiles.flatMap((path) =>
    expand(path).map((file) => {
      const rules = parse(readFileSync(file, "utf8")) as { groups?: Obj[] } | null;
      const timed = (rules?.groups ?? []).filter((g) => g.interval !== undefined);
      if (timed.length === 0) return file;
      for (const g of timed) {
        changes.push(`rule group ${String(g.name)} interval ${String(g.interval)} -> ${interval}`);
        g.interval = interval;
      }
      const copy = `rules-${basename(file)}`;
      files[copy] = stringify(rules, { aliasDuplicateObjects: false });
      return copy;
    }),
  );
  return { paths, files, changes };
}

/** The files a rule_files entry names: a path, or a glob with `*` in its last part. */
function expand(path: string): string[] {
  const name = basename(path);
  if (!name.includes("*")) return [path];
  const re = new RegExp(`^${name.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  const dir = dirname(path);
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * prometheus.yml for one stack on this machine, as the stack e2e and the demo's report run it: the
 * committed file with the exporter, the API, Prometheus and Alertmanager on 127.0.0.1 at the given
 * ports, and without the jobs of what does not run there (Loki, Promtail, Grafana).
 */
export function localStackPrometheusConfig(o: {
  readonly exporterPort: number;
  readonly apiPort: number;
  readonly prometheusPort: string;
  readonly alertmanagerPort: string;
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
}): Rewritten {
  const configPath = new URL("../../prometheus/prometheus.yml", import.meta.url).pathname;
  return rewritePrometheusConfig(readFileSync(configPath, "utf8"), {
    configPath,
    targets: {
      [jobs.exporter]: `127.0.0.1:${o.exporterPort}`,
      [jobs.api]: `127.0.0.1:${o.apiPort}`,
      [jobs.prometheus]: `127.0.0.1:${o.prometheusPort}`,
      [jobs.alertmanager]: `127.0.0.1:${o.alertmanagerPort}`,
    },
    removeJobs: [jobs.loki, jobs.promtail, jobs.grafana],
    alertmanager: `127.0.0.1:${o.alertmanagerPort}`,
    scrapeInterval: o.scrapeInterval,
    evaluationInterval: o.evaluationInterval,
  });
}
