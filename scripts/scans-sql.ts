// The scans DDL as a file for psql, exporter/sql/scans.sql, written from definitions/scans-ddl.ts (a row
// of scripts/generators.ts): the path docs/database.md tells operators to run, and the file compose's
// demo PostgreSQL and the psql tests run.
import { scansDdl } from "../definitions/scans-ddl.ts";

export function outputs(): Record<string, string> {
  return {
    "exporter/sql/scans.sql":
      "-- Generated from definitions/scans-ddl.ts by `npm run generate`. DO NOT EDIT: change the TypeScript\n" +
      "-- and regenerate (test/drift.test.ts fails when this file differs).\n--\n" +
      scansDdl,
  };
}
