/**
 * --out DIR: the config and every file it references, written into one directory, so that
 * `include DIR/*.conf;` (nginx) or `-f DIR/<host>.cfg` (HAProxy) is the whole set-up. The
 * keys/ folder (HAProxy) mirrors the signer's JWKS: keys the signer no longer lists are removed.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Env } from "../../worker/config.js";
import { generateProxyConfig, KEYS_SUBDIR, needsSignerKeys, type GenerateResult } from "./generate.js";
import { parseProxyConfigArgs } from "./request.js";
import { fetchSignerKeys } from "./signer-keys.js";

/** generateProxyConfig, after fetching the signer's keys when the command line needs them. */
export async function buildProxyConfig(argv: string[], env: Env, fetchImpl: typeof fetch = fetch): Promise<GenerateResult> {
  const parsed = parseProxyConfigArgs(argv, env);
  if (!parsed.ok) return parsed;
  if (!needsSignerKeys(parsed.request)) return generateProxyConfig(argv, env);
  try {
    return generateProxyConfig(argv, env, await fetchSignerKeys(parsed.request.signer, fetchImpl));
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** Writes the result into its --out directory; returns the paths written. */
export function writeOutDir(result: Extract<GenerateResult, { ok: true }>): string[] {
  const dir = result.request.out;
  if (dir === undefined) throw new Error("writeOutDir needs --out");
  const written: string[] = [];
  const write = (path: string, content: string) => {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    written.push(full);
  };
  for (const file of result.files) write(file.path, file.content);
  const keyFiles = new Set(result.files.filter((f) => f.path.startsWith(`${KEYS_SUBDIR}/`)).map((f) => f.path.slice(KEYS_SUBDIR.length + 1)));
  if (keyFiles.size > 0) {
    for (const name of readdirSync(join(dir, KEYS_SUBDIR))) {
      if (name.endsWith(".pem") && !keyFiles.has(name)) rmSync(join(dir, KEYS_SUBDIR, name));
    }
  }
  write(result.configFile, result.config);
  return written;
}
