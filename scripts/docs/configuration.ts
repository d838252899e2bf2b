// docs/configuration.md: its prose is written in the Markdown file; the table of variables between the
// "variables" markers is written here from the rows of exporter/src/config.ts (a row in
// scripts/generators.ts; test/drift.test.ts fails when the committed file differs).
import { variables } from "../../exporter/src/config.ts";
import { fillFile } from "./markers.ts";

export const path = "docs/configuration.md";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function variablesTable(): string {
  const rows = Object.values(variables).map((v) => {
    const name = "file" in v && v.file ? `\`${v.env}\`<br>\`${v.env}_FILE\`` : `\`${v.env}\``;
    const def = v.default === undefined ? "unset" : v.default === "" ? "empty" : `\`${v.default}\``;
    const notes = "secret" in v && v.secret ? " **Secret**: redacted in every log line and error." : "";
    return `| ${name} | ${def} | ${cell(v.description + notes)} |`;
  });
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

export function outputs(): Record<string, string> {
  return { [path]: fillFile(path, { variables: variablesTable() }) };
}
