// What the Python package's tests share: whether python3 is there (a skip outside CI, a failure under
// CI=true, as the harness's requireBinaries).
import { which } from "../../test/support/servers.ts";

export function requirePython(): false | string {
  if (which("python3")) return false;
  const reason = "python3 is not installed (apt-get install python3)";
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}
