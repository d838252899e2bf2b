// The one redactor: the same marker for every secret, in every program.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { REDACTED, redactEchoed, redactUrl, secretRedactor, urlPasswords } from "../redact.ts";

describe("lib/redact.ts", () => {
  test("a URL keeps its user and loses its password (the demo's and the collectors' log lines)", () => {
    assert.equal(redactUrl("postgres://kali:s3cret@db:5432/app"), `postgres://kali:${REDACTED}@db:5432/app`);
    assert.equal(redactUrl("redis://:p%40ss@r:6379/0"), `redis://:${REDACTED}@r:6379/0`);
    assert.equal(redactUrl("redis://r:6379/0"), "redis://r:6379/0");
  });

  test("a driver message quoting the password alone (encoded or decoded) is redacted too", () => {
    const redact = secretRedactor(urlPasswords("postgres://u:p%40ssw0rd@db/app"));
    assert.equal(
      redact('password authentication failed: "p@ssw0rd" / p%40ssw0rd'),
      `password authentication failed: "${REDACTED}" / ${REDACTED}`,
    );
  });

  test("an echoed value: every URL's user information and query values, parsable or not", () => {
    const cases: [string, string][] = [
      ["ftp://kali:hunter2@api:8000/health", `ftp://${REDACTED}@api:8000/health`],
      // A token standing as the user, and an unencoded "/" in a password: taken whole.
      ["https://ghp_token@github.example/x", `https://${REDACTED}@github.example/x`],
      ["http://u:pa/ss@h:1/p", `http://${REDACTED}@h:1/p`],
      ["http://h/p?token=abc&sig=def#f", `http://h/p?token=${REDACTED}&sig=${REDACTED}#f`],
      // A list (MCP_SERVERS): each URL on its own.
      ["a=http://u:p1@x/h,b=tcp://u:p2@y:1", `a=http://${REDACTED}@x/h,b=tcp://${REDACTED}@y:1`],
      ["prometheus:9090", "prometheus:9090"],
      ["http://h:9090/", "http://h:9090/"],
    ];
    for (const [raw, shown] of cases) assert.equal(redactEchoed(raw), shown, raw);
  });
});
