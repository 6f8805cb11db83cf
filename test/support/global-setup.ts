/**
 * Builds what the tests run once per test run: the Worker bundle exactly as
 * `wrangler deploy --dry-run` makes it (so workerd runs the deployable artefact) and, when
 * the frontend exists, its rollup bundle.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const OFFLINE_WRANGLER_ENV = {
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

export default function setup(): void {
  if (existsSync(`${root}/rollup.config.mjs`)) {
    execFileSync("npx", ["rollup", "-c", "--silent"], { cwd: root, stdio: "inherit" });
  }
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", "dist/worker"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
  });
}
