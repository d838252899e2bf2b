// deploy/remote-write/README.md: how to use the remote_write configurations. Its prose is written in the
// Markdown file; the table of stores and their notes, between its markers, are written here from
// deploy/src/remote-write.ts, and the names the prose writes out (the host label and its variable, the
// secret files, the central Prometheus' host and jobs) are checked against it. A row in
// scripts/generators.ts; test/drift.test.ts fails when the committed file differs.
import { basename } from "node:path";
import { hostLabel } from "../../definitions/selectors.ts";
import {
  centralHost,
  centralJobs,
  edgeSecretFiles,
  hostNameVariable,
  outputDir,
  stores,
} from "../../deploy/src/remote-write.ts";
import { fillFile } from "./markers.ts";

export const path = `${outputDir}/README.md`;

export function render(): string {
  const rows = stores.map(
    (s) =>
      `| ${s.title} | \`edge-${s.name}.yml\` | \`${s.url}\` | ${
        s.headers
          ? Object.entries(s.headers)
              .map(([k, v]) => `\`${k}: ${v}\``)
              .join(", ")
          : "none"
      } |`,
  );
  return fillFile(
    path,
    {
      stores: [
        "| store | edge configuration | endpoint | headers |",
        "| --- | --- | --- | --- |",
        ...rows,
      ].join("\n"),
      "store-notes": stores.map((s) => `- **${s.title}**: ${s.receiverNotes}`).join("\n"),
    },
    {
      named: {
        "hostLabel and hostNameVariable": `sets the \`${hostLabel}\` external label from the \`${hostNameVariable}\` environment variable`,
        hostNameVariable: `set \`${hostNameVariable}\` per host`,
        "edgeSecretFiles.username": `\`${basename(edgeSecretFiles.username)}\` (one user per host)`,
        "edgeSecretFiles.password": `\`${basename(edgeSecretFiles.password)}\``,
        "edgeSecretFiles.ca": `\`${basename(edgeSecretFiles.ca)}\` (the CA that signed the store's certificate)`,
        centralHost: `# issued for ${centralHost}`,
        centralJobs: `what runs once beside it (${centralJobs.join(", ")})`,
      },
    },
  );
}

export function outputs(): Record<string, string> {
  return { [path]: render() };
}
