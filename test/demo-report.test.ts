// scripts/demo-report.ts (`npm run demo:report`) runs for minutes, so CI does not run it; its one
// input, DEMO_REPORT_MINUTES, is read strictly, and that is tested here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseMinutes } from "../scripts/demo-report.ts";

describe("demo report: DEMO_REPORT_MINUTES", () => {
  test("unset or empty: 20 minutes; a whole number from 3 to 180 as given", () => {
    assert.deepEqual([undefined, "", "3", "15", "180"].map(parseMinutes), [20, 20, 3, 15, 180]);
  });
  for (const bad of ["0", "2", "181", "15.5", "015", "-5", "1e1", " 15", "15m", "fifteen"])
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => parseMinutes(bad),
        new RegExp(
          `^Error: DEMO_REPORT_MINUTES=${JSON.stringify(bad).replace(/[.+]/g, "\\$&")} is not a whole number of minutes from 3 to 180$`,
        ),
      );
    });
});
