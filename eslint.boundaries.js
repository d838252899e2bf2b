// @ts-check
// Import boundaries between the folders of the repository, enforced by ESLint's own
// no-restricted-imports (and no-restricted-syntax for `import("...")`), part of `npm run lint`.
// docs/architecture.md draws the same table; this file is what keeps the drawing true.
//
// Each area names the top-level folders it may import besides its own files. Anything else a relative
// import reaches is an error: a program's src never imports another program, nor test/ or bench/; the
// generators import only definitions/ and lib/; lib/ imports definitions/; definitions/ imports
// nothing of ours. Tests, benchmarks and the generation root (scripts/*.ts) are not areas: they wire
// everything together, as main.ts does for a program; that holds for an area's own tests too (lib/test/,
// any *.test.ts), which may use the harness in test/support/.
//
// How it is checked without resolving files: a file at depth D below the repository root, k folders
// below its area's root, stays inside its area as long as an import climbs at most k levels (`../`). An
// import that climbs more leaves the area, and is allowed only when it climbs all D levels to the root
// and then names an allowed top-level folder. So the rule is exact for every depth, with no plugin and
// no resolver.

/** @type {{ area: string; may: string[]; why: string }[]} */
export const areas = [
  { area: "definitions", may: [], why: "definitions/ is plain data: it imports nothing of ours" },
  { area: "lib", may: ["definitions"], why: "lib/ (the shared runtime layer) imports only definitions/" },
  ...["exporter/src", "ops/src", "demo/src"].map((area) => ({
    area,
    may: ["lib", "definitions"],
    why: `${area} is a program: it imports lib/ and definitions/ only, never another program, test/ or bench/ (a piece two programs need belongs in lib/)`,
  })),
  ...["prometheus/rules/src", "loki/rules/src", "dashboards/src"].map((area) => ({
    area,
    may: ["lib", "definitions"],
    why: `${area} is a generator: it imports definitions/ and lib/ only, never a program or another generator`,
  })),
  {
    area: "deploy/src",
    may: ["lib", "definitions", "prometheus", "loki", "dashboards"],
    why: "deploy/src (Kubernetes and remote_write packaging) imports definitions/, lib/ and the rule and dashboard generators whose output it packages, never a program",
  },
  {
    area: "scripts/docs",
    may: ["lib", "definitions", "prometheus", "loki", "dashboards", "deploy", "exporter"],
    why: "scripts/docs (the docs generators) import definitions/, lib/, and what they document: the rule groups, the dashboards, deploy's packaging and the exporter's table of variables",
  },
];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The regex of the relative imports that leave `area` from a file `k` folders below its root. */
export function forbiddenImport(area, may, k) {
  const depth = area.split("/").length + k;
  const allowed = may.length ? `(?!(?:\\.\\./){${depth}}(?:${may.map(escape).join("|")})/)` : "";
  return `^${allowed}(?:\\.\\./){${k + 1}}`;
}

const MAX_NESTING = 6;

/** An area's own tests (lib/test/, any *.test.ts) are tests, not part of the area. */
const testsOf = (area) => [`${area}/test/**`, "**/*.test.ts"];

/** One flat-config block: `files` (less `ignores`) may not import what `regex` matches. */
const block = (files, ignores, regex, message) => ({
  files: [files],
  ignores,
  rules: {
    "no-restricted-imports": ["error", { patterns: [{ regex, message }] }],
    "no-restricted-syntax": [
      "error",
      // esquery's regex literal cannot hold a "/": \x2F stands for it.
      { selector: `ImportExpression > Literal[value=/${regex.replace(/\//g, "\\x2F")}/]`, message },
    ],
  },
});

/** Flat-config blocks: one per area and nesting depth below it. */
export function boundaryConfigs() {
  return areas.flatMap(({ area, may, why }) => [
    ...Array.from({ length: MAX_NESTING }, (_, k) =>
      block(
        `${area}/${"*/".repeat(k)}*.{ts,js,mjs}`,
        testsOf(area),
        forbiddenImport(area, may, k),
        `${why} (docs/architecture.md, eslint.boundaries.js).`,
      ),
    ),
    // Deeper than the table reaches: no file there may import upwards at all, so nothing slips by.
    block(
      `${area}/${"*/".repeat(MAX_NESTING)}**/*.{ts,js,mjs}`,
      testsOf(area),
      "^\\.\\./",
      `${area} is nested more than ${MAX_NESTING} folders deep here: eslint.boundaries.js checks no deeper (raise MAX_NESTING).`,
    ),
  ]);
}
