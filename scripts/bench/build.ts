/**
 * Bundling for the benchmark: the Worker exactly as `wrangler deploy --dry-run` makes it
 * (offline, bounded in time), into temporary directories so that dist/worker, which the
 * tests use, is never touched. Also the frontend's rollup build when it is missing.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export const OFFLINE_WRANGLER_ENV = {
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every bundle directory this run made (after workerd has stopped using them). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function run(command: string, args: string[], options: { cwd: string; timeoutMs: number; env?: Record<string, string> }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs, killSignal: "SIGKILL", env: { ...process.env, ...options.env }, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      },
    );
  });
}

export function compatibilityDate(): string {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  return /compatibility_date\s*=\s*"([^"]+)"/.exec(toml)![1]!;
}

/** The one .js file wrangler wrote into `outdir`. */
function bundleIn(outdir: string): string {
  const js = readdirSync(outdir).filter((f) => f.endsWith(".js"));
  if (js.length !== 1) throw new Error(`expected one .js bundle in ${outdir}, found: ${js.join(", ") || "none"}`);
  return join(outdir, js[0]!);
}

export const WRANGLER_DRY_RUN = "npx wrangler deploy --dry-run --outdir <dir>";

/** The product's Worker bundle, from the project's own wrangler.toml. */
export async function buildProductWorker(): Promise<string> {
  const outdir = tempDir("jwt-cookie-bench-worker-");
  await run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], { cwd: ROOT, timeoutMs: 120_000, env: OFFLINE_WRANGLER_ENV });
  return bundleIn(outdir);
}

/** scripts/bench/bench-worker.ts (the product's Worker + /bare), bundled the same way. */
export async function buildBenchWorker(): Promise<string> {
  const dir = tempDir("jwt-cookie-bench-wrangler-");
  const config = join(dir, "wrangler.toml");
  writeFileSync(
    config,
    [
      'name = "jwt-cookie-bench"',
      `main = ${JSON.stringify(join(ROOT, "scripts/bench/bench-worker.ts"))}`,
      `compatibility_date = "${compatibilityDate()}"`,
      "",
    ].join("\n"),
  );
  const outdir = join(dir, "out");
  await run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "--config", config], {
    cwd: ROOT,
    timeoutMs: 120_000,
    env: OFFLINE_WRANGLER_ENV,
  });
  return bundleIn(outdir);
}

export type FrontendBundle = { path: string; note: string } | { path: undefined; note: string };

/** dist/jwt-cookie.js; built with `npx rollup -c` when missing and a rollup config exists. */
export async function frontendBundle(): Promise<FrontendBundle> {
  const path = join(ROOT, "dist/jwt-cookie.js");
  if (existsSync(path)) return { path, note: "existing dist/jwt-cookie.js" };
  if (!existsSync(join(ROOT, "rollup.config.mjs"))) return { path: undefined, note: "not built (no dist/jwt-cookie.js, no rollup.config.mjs)" };
  try {
    await run("npx", ["rollup", "-c", "--silent"], { cwd: ROOT, timeoutMs: 120_000 });
  } catch (error) {
    return { path: undefined, note: `not built (npx rollup -c failed: ${(error as Error).message.split("\n")[0]})` };
  }
  return existsSync(path) ? { path, note: "built now with npx rollup -c" } : { path: undefined, note: "not built (rollup -c wrote no dist/jwt-cookie.js)" };
}
