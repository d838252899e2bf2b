// Debian's chromium, headless, driven by playwright-core: how the report's page is opened by its test
// and screenshot by the demo's report, with the flags a sandbox-less machine needs.
import type { BrowserContext } from "playwright-core";
import { findBinary } from "./servers.ts";

/** A headless Chromium with its own profile folder, at the report page's width. */
export async function launchChromium(profile: string): Promise<BrowserContext> {
  const { chromium } = await import("playwright-core");
  const executablePath = findBinary("chromium");
  if (!executablePath) throw new Error("chromium is not installed (apt-get install chromium)");
  return chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    viewport: { width: 760, height: 1000 },
  });
}
