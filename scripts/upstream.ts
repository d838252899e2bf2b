// `npm run -s upstream -- <command>`: the upstream Go binaries the tests run (test/support/upstream.ts).
//
//   build [name ...]   build what is not in the cache yet (all by default); prints what it did
//   versions           one line per binary: `name version path`; exits 1 when one is missing or
//                      reports another version than definitions/versions.ts pins
//   path <command>     the path of one built binary (exit 1 when it is not built)
import { upstream } from "../definitions/versions.ts";
import {
  buildUpstream,
  findUpstreamBinary,
  goUpstreams,
  reportedVersion,
  upstreamBinaryPath,
  upstreamCommands,
  type GoUpstream,
} from "../test/support/upstream.ts";

const [command, ...args] = process.argv.slice(2);
const fail = (msg: string): never => {
  console.error(`upstream: ${msg}`);
  process.exit(1);
};

switch (command) {
  case "build": {
    const unknown = args.filter((a) => !(goUpstreams as string[]).includes(a));
    if (unknown.length > 0) fail(`unknown upstream ${unknown.join(", ")} (known: ${goUpstreams.join(", ")})`);
    const names = (args.length > 0 ? args : goUpstreams) as GoUpstream[];
    for (const name of names) {
      try {
        if (!buildUpstream(name, (l) => console.error(`upstream: ${l}`))) {
          console.error(`upstream: ${name} ${upstream[name].version} is built (cached)`);
        }
      } catch (e) {
        fail((e as Error).message);
      }
    }
    break;
  }
  case "versions": {
    let bad = 0;
    for (const [cmd, u] of upstreamCommands) {
      const want = upstream[u].version;
      const got = reportedVersion(cmd);
      console.log(`${cmd} ${got ?? "missing"} ${upstreamBinaryPath(cmd)}`);
      if (got !== want) {
        bad++;
        console.error(
          `upstream: ${cmd}: ${got ? `reports ${got}` : "not built"}, pinned ${want} (npm run -s upstream -- build)`,
        );
      }
    }
    if (bad > 0) process.exit(1);
    break;
  }
  case "path": {
    const cmd = args[0] ?? fail("path needs a command name");
    if (!upstreamCommands.has(cmd))
      fail(`unknown command ${cmd} (known: ${[...upstreamCommands.keys()].join(", ")})`);
    const p = findUpstreamBinary(cmd) ?? fail(`${cmd} is not built (npm run -s upstream -- build)`);
    console.log(p);
    break;
  }
  default:
    fail(`usage: npm run -s upstream -- build [name ...] | versions | path <command>`);
}
