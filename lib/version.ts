// The stack's version, the one `--version` of the exporter and the ops CLI prints and the exporter
// publishes (kali_agents_exporter_build_info). It is package.json's "version", written here because a
// built image runs dist/ without package.json beside it; exporter/test/metrics.test.ts holds the two equal.
export const stackVersion = "0.1.0";
