// The one redactor: the same marker for every secret, in every program.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { REDACTED, redactUrl, secretRedactor, urlPasswords } from "../redact.ts";

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
});
