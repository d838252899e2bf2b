// A linter over the generated dashboards, in the spirit of grafana/dashboard-linter: the rules that make
// a dashboard trustworthy for the on-call engineer, checked on the JSON Grafana will load.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Dashboard, Panel, RowPanel } from "@grafana/grafana-foundation-sdk/dashboard";
import { runbookBaseUrl } from "../../definitions/rules.ts";
import { datasourceUids } from "../../definitions/selectors.ts";
import { dashboardUid, lokiVariable, promVariable } from "../src/common.ts";
import { commonTag, dashboards, outputs, stableJson, type GeneratedDashboard } from "../src/index.ts";
import { panelsOf, substitute, defaultVariableValues } from "../src/queries.ts";
import { promqlRanges } from "./support.ts";

/** Panel types that show no numbers, so have no unit. */
const unitless = new Set(["logs", "text", "row"]);
/** PromQL functions over a counter's range, which must use $__rate_interval. */
const rateFunctions = new Set(["rate", "irate", "increase"]);
const variableRef = /^\$\{?(\w+)\}?$/;

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}

type Rule = (d: GeneratedDashboard) => string[];

/** Each rule returns its findings for one dashboard; an empty list means it passes. */
const rules: Record<string, Rule> = {
  "panels have a title and a description": (d) =>
    panelsOf(d.json).flatMap((p) => [
      ...(p.title?.trim() ? [] : [`panel ${p.id} has no title`]),
      ...(p.description?.trim() ? [] : [`"${p.title}" has no description`]),
    ]),

  "panels showing numbers have a unit": (d) =>
    panelsOf(d.json)
      .filter((p) => !unitless.has(p.type))
      .flatMap((p) => (p.fieldConfig?.defaults?.unit ? [] : [`"${p.title}" (${p.type}) has no unit`])),

  "panels showing numbers have threshold steps": (d) =>
    panelsOf(d.json)
      .filter((p) => !unitless.has(p.type))
      .flatMap((p) =>
        p.fieldConfig?.defaults?.thresholds?.steps?.length ? [] : [`"${p.title}" has no thresholds`],
      ),

  "panels and queries use the datasource variables, never a fixed datasource": (d) =>
    panelsOf(d.json).flatMap((p) => {
      const refs = [p.datasource, ...((p.targets ?? []) as Target[]).map((t) => t.datasource)];
      return refs.flatMap((ds) => {
        const m = variableRef.exec(ds?.uid ?? "");
        const expected = ds?.type === "loki" ? lokiVariable : promVariable;
        return m?.[1] === expected ? [] : [`"${p.title}" uses datasource ${JSON.stringify(ds)}`];
      });
    }),

  "annotations query the Prometheus variable and show on the graphs": (d) =>
    (d.json.annotations.list ?? []).flatMap((a) => {
      const uids = [
        a.datasource?.uid,
        (a.target as { datasource?: { uid?: string } } | undefined)?.datasource?.uid,
      ];
      return [
        ...uids
          .filter((u) => variableRef.exec(u ?? "")?.[1] !== promVariable)
          .map((u) => `annotation "${a.name}" uses ${u}`),
        ...(a.enable ? [] : [`annotation "${a.name}" is off`]),
      ];
    }),

  "rates use $__rate_interval": (d) =>
    panelsOf(d.json).flatMap((p) =>
      ((p.targets ?? []) as Target[])
        .filter((t) => t.datasource?.type === "prometheus" && t.expr)
        .flatMap((t) => {
          // A sentinel value no panel would write: any other range in a rate() was written by hand.
          const expr = substitute(t.expr ?? "", { ...defaultVariableValues, __rate_interval: "4242s" });
          return promqlRanges(expr)
            .filter((r) => rateFunctions.has(r.fn) && r.range !== "4242s")
            .map((r) => `"${p.title}" ${t.refId}: ${r.fn}(...[${r.range}])`);
        }),
    ),

  "every target has a refId, unique in its panel": (d) =>
    panelsOf(d.json).flatMap((p) => {
      const ids = ((p.targets ?? []) as Target[]).map((t) => t.refId ?? "");
      const bad = ids.filter((id, i) => !id || ids.indexOf(id) !== i);
      return [
        ...(ids.length === 0 ? [`"${p.title}" has no query`] : []),
        ...bad.map((id) => `"${p.title}" has refId "${id}" missing or twice`),
      ];
    }),

  "panel ids are unique": (d) => {
    const all = (d.json.panels ?? []).flatMap((p) => [p, ...((p as RowPanel).panels ?? [])]);
    const ids = all.map((p) => p.id);
    return [
      ...ids.filter((id) => typeof id !== "number").map(() => "a panel has no id"),
      ...ids.filter((id, i) => ids.indexOf(id) !== i).map((id) => `panel id ${id} twice`),
    ];
  },

  "panel titles are unique": (d) => {
    const titles = panelsOf(d.json).map((p) => p.title);
    return titles.filter((t, i) => titles.indexOf(t) !== i).map((t) => `title "${t}" twice`);
  },

  "no empty rows": (d) => {
    const panels = d.json.panels ?? [];
    return panels.flatMap((p, i) => {
      if (p.type !== "row") return [];
      const next = panels[i + 1];
      const inside = (p as RowPanel).panels ?? [];
      return inside.length === 0 && (!next || next.type === "row") ? [`row "${p.title}" is empty`] : [];
    });
  },

  "panels fit the 24-column grid and do not overlap": (d) => {
    const all = (d.json.panels ?? []) as (Panel | RowPanel)[];
    const out: string[] = [];
    const cells = new Map<string, string>();
    for (const p of all) {
      const g = p.gridPos;
      if (!g) {
        out.push(`"${p.title}" has no position`);
        continue;
      }
      if (g.x < 0 || g.w <= 0 || g.x + g.w > 24) out.push(`"${p.title}" spans columns ${g.x}..${g.x + g.w}`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`);
          if (other) out.push(`"${p.title}" overlaps "${other}"`);
          cells.set(`${x},${y}`, p.title ?? "");
        }
      }
    }
    return [...new Set(out)];
  },

  "the defaults pass ran: uid, tags, refresh, time, read-only, variables, links": (d) => {
    const j: Dashboard = d.json;
    const out: string[] = [];
    if (j.uid !== dashboardUid(d.name)) out.push(`uid ${j.uid}, expected ${dashboardUid(d.name)}`);
    if (!j.uid || j.uid.length > 40) out.push(`uid ${j.uid} is empty or longer than Grafana's 40 characters`);
    if (!j.tags?.includes(commonTag)) out.push(`no ${commonTag} tag`);
    if (j.editable !== false) out.push("editable is not false");
    if (!j.refresh) out.push("no refresh");
    if (!j.time?.from || !j.time.to) out.push("no time range");
    if (!j.timezone) out.push("no timezone");
    if (!j.description) out.push("no description");
    const vars = j.templating.list ?? [];
    for (const [name, type, uid] of [
      [promVariable, "prometheus", datasourceUids.prometheus],
      [lokiVariable, "loki", datasourceUids.loki],
    ] as const) {
      const v = vars.find((x) => x.name === name);
      if (!v || v.type !== "datasource" || v.query !== type)
        out.push(`no ${type} datasource variable ${name}`);
      else if ((v.current as { value?: unknown } | undefined)?.value !== uid) {
        out.push(`variable ${name} defaults to ${JSON.stringify(v.current)}, not the provisioned ${uid}`);
      }
    }
    const link = j.links?.find((l) => l.type === "dashboards" && l.tags.includes(commonTag));
    if (!link) out.push("no link to the other dashboards");
    else if (!link.keepTime || !link.includeVars)
      out.push("the dashboards link drops the time range or variables");
    return out;
  },

  "panel links point at generated dashboards or runbooks": (d) => {
    const uids = new Set(dashboards.map((x) => x.json.uid));
    return panelsOf(d.json).flatMap((p) =>
      (p.fieldConfig?.defaults?.links ?? []).flatMap((l) => {
        const url = l.url ?? "";
        if (url.startsWith(`${runbookBaseUrl}/`) && url.endsWith(".md")) return [];
        const uid = /^\/d\/([^/?]+)/.exec(url)?.[1];
        return uid && uids.has(uid) ? [] : [`"${p.title}" links to ${url}`];
      }),
    );
  },
};

describe("dashboard linter", () => {
  for (const [name, rule] of Object.entries(rules)) {
    test(name, () => {
      const findings = dashboards.flatMap((d) => rule(d).map((f) => `${d.name}: ${f}`));
      assert.deepEqual(findings, []);
    });
  }

  test("the rules find what they look for (each fails on a broken dashboard)", () => {
    // One broken copy per rule: a linter that finds nothing on these is not checking anything.
    const base = dashboards.find((d) => d.name === "scans");
    assert.ok(base);
    const broken = (mutate: (j: Dashboard) => void): GeneratedDashboard => {
      const json = JSON.parse(JSON.stringify(base.json)) as Dashboard;
      mutate(json);
      return { ...base, json };
    };
    const first = (j: Dashboard) => panelsOf(j).find((p) => p.type === "timeseries")!;
    const firstTarget = (j: Dashboard) => (first(j).targets as Target[])[0]!;
    const cases: [string, (j: Dashboard) => void][] = [
      ["panels have a title and a description", (j) => (first(j).description = "")],
      ["panels showing numbers have a unit", (j) => delete first(j).fieldConfig!.defaults.unit],
      [
        "panels and queries use the datasource variables, never a fixed datasource",
        (j) => (firstTarget(j).datasource = { type: "prometheus", uid: "kali-prometheus" }),
      ],
      ["rates use $__rate_interval", (j) => (firstTarget(j).expr = "sum(rate(up[5m]))")],
      [
        "annotations query the Prometheus variable and show on the graphs",
        (j) => (j.annotations.list![0]!.datasource = { type: "prometheus", uid: "kali-prometheus" }),
      ],
      ["every target has a refId, unique in its panel", (j) => delete firstTarget(j).refId],
      ["panel ids are unique", (j) => (first(j).id = 1)],
      [
        "no empty rows",
        (j) =>
          j.panels!.push({
            type: "row",
            title: "x",
            collapsed: false,
            id: 999,
            panels: [],
            gridPos: { x: 0, y: 999, w: 24, h: 1 },
          }),
      ],
      ["panels fit the 24-column grid and do not overlap", (j) => (first(j).gridPos!.w = 30)],
      [
        "the defaults pass ran: uid, tags, refresh, time, read-only, variables, links",
        (j) => (j.editable = true),
      ],
      [
        "panel links point at generated dashboards or runbooks",
        (j) =>
          (first(j).fieldConfig!.defaults.links = [{ title: "x", url: "/d/nope", type: "link" } as never]),
      ],
    ];
    for (const [name, mutate] of cases) {
      const rule = rules[name];
      assert.ok(rule, name);
      assert.notDeepEqual(rule(broken(mutate)), [], `rule "${name}" misses a broken dashboard`);
    }
  });

  test("UIDs are unique across dashboards", () => {
    const uids = dashboards.map((d) => d.json.uid);
    assert.equal(new Set(uids).size, uids.length, uids.join(", "));
  });

  test("the generated JSON is deterministic: sorted keys, 2-space indent, trailing newline", () => {
    const a = outputs();
    const b = outputs();
    assert.deepEqual(a, b);
    for (const [path, text] of Object.entries(a)) {
      assert.ok(text.endsWith("}\n"), `${path} has no trailing newline`);
      assert.match(text, /^\{\n {2}"/, `${path} is not indented by 2 spaces`);
      const keys = Object.keys(JSON.parse(text) as object);
      assert.deepEqual(keys, [...keys].sort(), `${path} keys are not sorted`);
    }
  });

  test("building twice gives the same dashboards (no builder is shared between builds)", () => {
    // An SDK builder reused in two dashboards moves its panels: rebuilding would then differ.
    const again = outputs();
    for (const d of dashboards) assert.equal(again[d.path], stableJson(d.json), d.name);
  });
});
