// `npm run -s images -- <command>`: the images compose.yaml names, had here (tools/images/README.md).
import { upstream } from "../definitions/versions.ts";
import {
  buildStandIn,
  dockerAnswers,
  imageState,
  standIns,
  type StandInName,
} from "../tools/images/stand-ins.ts";

const usage = `usage: npm run -s images -- <command>

  build [--no-pull] [name ...]
        Builds each image compose.yaml names that cannot be pulled, as a stand-in under the exact name
        and tag compose uses (${standIns.map((s) => s.name).join(", ")}; all by default). An image
        whose inputs did not change is kept (label org.kali-agents.stand-in.inputs); a registry's own
        image that is already here is kept as it is. Otherwise the registry is tried once (20 s) unless
        --no-pull, then the stand-in is built. Needs root for debootstrap and chroot on a cold cache.
  list  One line per image compose.yaml names: reference, where it came from (stand-in built here,
        registry image, built by compose from our Dockerfiles, or missing) and what a stand-in is made of.
        Exits 1 when a stand-in or registry image is missing.
  --help
        This text.

The downloads, Debian root file systems and build contexts are kept in ~/.cache/kali-agents-images
(KALI_IMAGES_CACHE); KALI_DEBIAN_MIRROR sets the Debian mirror (default http://deb.debian.org/debian).`;

const [command, ...args] = process.argv.slice(2);
const fail = (msg: string): never => {
  console.error(`images: ${msg}`);
  process.exit(1);
};

if (command === "--help" || command === "-h" || command === "help") {
  console.log(usage);
  process.exit(0);
}
if (command !== "build" && command !== "list") fail(`unknown command ${command ?? "(none)"}\n${usage}`);
if (!dockerAnswers()) fail("no Docker daemon answers (docker version); start one (scripts/test.sh does)");

if (command === "build") {
  const noPull = args.includes("--no-pull");
  const names = args.filter((a) => a !== "--no-pull");
  const unknown = names.filter((n) => !standIns.some((s) => s.name === n));
  if (unknown.length > 0)
    fail(`unknown stand-in ${unknown.join(", ")} (known: ${standIns.map((s) => s.name).join(", ")})`);
  const started = Date.now();
  for (const s of standIns) {
    if (names.length > 0 && !names.includes(s.name as StandInName)) continue;
    try {
      const r = buildStandIn(s, {
        pullTimeoutMs: noPull ? 0 : 20_000,
        log: (l) => console.error(`images: ${l}`),
      });
      console.error(`images: ${r.ref} ${r.outcome} (${r.seconds.toFixed(1)} s)`);
    } catch (e) {
      fail(`${s.ref}: ${(e as Error).message}`);
    }
  }
  console.error(`images: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} else {
  let missing = 0;
  const ours = ["kali-agents-exporter:local", "kali-agents-ops:local", "kali-agents-demo:local"];
  for (const u of Object.values(upstream)) {
    if (!("image" in u)) continue;
    const ref = `${u.image.repository}:${u.image.tag}`;
    const s = standIns.find((x) => x.ref === ref);
    const state = imageState(ref);
    let where: string;
    if (!state.present) {
      where = s ? "missing (npm run -s images -- build)" : "missing: no stand-in, cannot be had here";
      if (s) missing++;
    } else if (state.inputs !== undefined) {
      where = `stand-in built here: ${s?.madeOf ?? "(unknown)"}`;
    } else {
      where = "registry image (pulled)";
    }
    console.log(`${ref}\t${where}`);
  }
  for (const ref of ours) {
    const state = imageState(ref);
    console.log(
      `${ref}\t${state.present ? "built by compose from our Dockerfile" : "not built yet (docker compose build)"}`,
    );
  }
  if (missing > 0) process.exit(1);
}
