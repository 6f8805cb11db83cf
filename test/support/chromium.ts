/**
 * Debian's Chromium, headless, for every browser test. Never a downloaded browser; as root
 * it needs --no-sandbox, and without the networking flags it keeps dialling out (this
 * machine has no network but loopback). A missing binary fails the test, never skips it.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's "chromium" package (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      "--disable-features=Translate,MediaRouter,OptimizationHints",
      ...extraArgs,
    ],
  });
}
