// The Alloy syntax parser refuses what it does not understand, and config.alloy means what promtail.yaml
// means: same files, labels, relabelling, pipeline stages, push URL, and Promtail's positions imported.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { logs } from "../../definitions/logs.ts";
import { composeService, loadCompose, mountsOf } from "../../loki/test/compose.ts";
import { attachedLabels } from "../../loki/test/logql.ts";
import { loadPromtail } from "../../promtail/test/promtail-config.ts";
import { alloyPath, loadAlloy, readAlloy } from "./alloy-config.ts";
import { parseAlloy } from "./alloy-syntax.ts";

describe("alloy syntax parser", () => {
  test("reads blocks, labels, attributes, strings, lists, objects, references and calls", () => {
    const body = parseAlloy(
      [
        "// a comment",
        'loki.write "x" {',
        '  endpoint { url = "http://a\\"b" }',
        "}",
        "/* block",
        "   comment */",
        'a = [1, 2.5, true, null, `raw\\n`, {"k" = "v", j = sys.env("HOME"),},]',
        "b = local.file_match.x.targets",
      ].join("\n"),
    );
    assert.deepEqual(body, [
      {
        kind: "block",
        name: "loki.write",
        label: "x",
        line: 2,
        body: [
          {
            kind: "block",
            name: "endpoint",
            line: 3,
            body: [
              { kind: "attribute", name: "url", line: 3, value: { type: "string", value: 'http://a"b' } },
            ],
          },
        ],
      },
      {
        kind: "attribute",
        name: "a",
        line: 7,
        value: {
          type: "list",
          items: [
            { type: "number", value: 1 },
            { type: "number", value: 2.5 },
            { type: "bool", value: true },
            { type: "null" },
            { type: "string", value: "raw\\n" },
            {
              type: "object",
              entries: [
                ["k", { type: "string", value: "v" }],
                ["j", { type: "call", name: "sys.env", args: [{ type: "string", value: "HOME" }] }],
              ],
            },
          ],
        },
      },
      { kind: "attribute", name: "b", line: 8, value: { type: "ref", path: "local.file_match.x.targets" } },
    ]);
  });

  const refused: [string, string, RegExp][] = [
    ["an operator", 'a = "x" + "y"', /line 1: unsupported syntax "\+"/],
    ["an unterminated string", 'a = "x', /unterminated string/],
    ["an unknown escape", 'a = "\\q"', /unsupported escape/],
    ["two statements on one line", "a = 1 b = 2", /must start on a new line/],
    ["a missing comma", "a = [1 2]", /expected ',' or '\]'/],
    ["a missing brace", 'x "y" {\n a = 1\n', /missing }/],
    ["a hash comment", "# no\na = 1", /unsupported syntax "#"/],
    ["indexing", "a = b[0]", /statement must start on a new line|expected/],
  ];
  for (const [what, text, error] of refused)
    test(`refuses ${what}`, () => {
      assert.throws(() => parseAlloy(text), error);
    });
});

describe("config.alloy is the Promtail config in Alloy", () => {
  const alloy = loadAlloy();
  const promtail = loadPromtail();

  test("the same file targets with the same labels", () => assert.deepEqual(alloy.files, promtail.files));
  test("the same relabelling of containers", () => assert.deepEqual(alloy.docker, promtail.docker));
  test("the same stages for files", () => assert.deepEqual(alloy.filePipeline, promtail.filePipeline));
  test("the same stages for containers", () =>
    assert.deepEqual(alloy.dockerPipeline, promtail.dockerPipeline));
  test("the same Loki", () => assert.equal(alloy.pushUrl, promtail.pushUrl));
  test("Promtail's positions are imported, so switching neither re-sends nor skips lines", () =>
    assert.equal(alloy.positionsFile, promtail.positionsFile));

  test("the labels it attaches are exactly definitions/logs.ts logs.labels", () => {
    assert.deepEqual([...attachedLabels(alloy).keys()].sort(), [...logs.labels].sort());
  });

  test("a difference is caught: a changed stream label breaks the equivalence", () => {
    const text = readFileSync(alloyPath, "utf8");
    const edited = text.replace('"stream" = "audit"', '"stream" = "audits"');
    assert.notEqual(edited, text);
    assert.notDeepEqual(readAlloy(edited).files, promtail.files);
  });

  test("the reader refuses a stage it does not interpret rather than skipping it", () => {
    const text = readFileSync(alloyPath, "utf8");
    const edited = text.replace(
      "  stage.labels {",
      '  stage.drop {\n    expression = ".*"\n  }\n\n  stage.labels {',
    );
    assert.notEqual(edited, text);
    assert.throws(() => readAlloy(edited), /stage stage\.drop is not one this reader interprets/);
  });
});

describe("compose.yaml runs Alloy under its profile", () => {
  const compose = loadCompose();
  test("config, logs, socket, its own data volume and Promtail's positions (read-only) are mounted", () => {
    const alloy = composeService(compose, "alloy");
    assert.deepEqual(alloy.profiles, ["alloy"]);
    const mounts = mountsOf(compose, alloy);
    const has = (target: string) => mounts.find((m) => m.target === target);
    assert.ok(has("/etc/alloy/config.alloy"));
    assert.ok(has("/var/log/kali-agents"));
    assert.ok(has("/var/run/docker.sock"));
    assert.equal(has("/var/lib/promtail")?.source, "promtail-positions");
    const command = JSON.stringify(alloy.command);
    const storage = /--storage\.path=([^"]+)/.exec(command)?.[1];
    assert.ok(storage, "alloy needs --storage.path (its positions live there)");
    assert.ok(
      mounts.some((m) => m.type === "volume" && m.target === storage),
      `${storage} is not a named volume`,
    );
  });
});
