/**
 * nginx --check native as a user sets it up: `npm run proxy-config -- nginx --check native
 * --out DIR` for each host (keys fetched from the signer's JWKS), then `include DIR/*.conf;`
 * in the http context of an nginx whose main config loads the njs module. Each test nginx
 * gets its own check server port (--check-listen) and its own approval cache (--cache-dir
 * inside DIR, which is opened to nginx's worker user as /var/lib/nginx is).
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NJS_CHECK_SERVER_FILE } from "../../../scripts/proxy-config/nginx-native.js";
import { buildProxyConfig, writeOutDir } from "../../../scripts/proxy-config/out-dir.js";
import { freePort, tempDir } from "./processes.js";
import { startNginx, type RunningProxy } from "./proxies.js";
import type { World } from "./world.js";

export interface NativeOptions {
  /** The check server's port (--check-listen 127.0.0.1:<port>); one is picked if unset. */
  checkPort?: number;
  /** Where the signer's keys come from (default: the world's signer). */
  fetchImpl?: typeof fetch;
  /** Signer settings instead of the world's (e.g. other ACCESS_RULES). */
  env?: Record<string, string>;
}

/** Writes each host's config into one --out directory, as the CLI does. */
export async function writeNativeNginx(world: World, hosts: string[], port: number, dir: string, options: NativeOptions = {}): Promise<void> {
  const checkPort = options.checkPort ?? (await freePort());
  chmodSync(dir, 0o755);
  for (const host of hosts) {
    const args = ["nginx", "--host", host, "--upstream", world.upstream.url, "--check", "native", "--signer", world.signer.url];
    const extra = ["--check-listen", `127.0.0.1:${checkPort}`, "--cache-dir", join(dir, "cache")];
    const result = await buildProxyConfig([...args, "--out", dir, "--listen", `127.0.0.1:${port}`, ...extra], options.env ?? world.env, options.fetchImpl);
    if (!result.ok) throw new Error(result.error);
    writeOutDir(result);
  }
}

/**
 * Test-only observation of the njs check: the check server's `access_log off;` replaced by a
 * log file, one line per request that reached njs (cache misses). Product configs log nothing there.
 */
export function logCheckServer(dir: string, logFile: string): void {
  const file = join(dir, NJS_CHECK_SERVER_FILE);
  const text = readFileSync(file, "utf8");
  if (text.split("access_log off;").length !== 2) throw new Error(`${file} has no single "access_log off;" to replace`);
  writeFileSync(file, text.replace("access_log off;", `access_log ${logFile};`));
}

export interface RunningNativeNginx extends RunningProxy {
  /** The --out directory. */
  dir: string;
  /** nginx -s reload (SIGHUP to the master); resolves once the new worker serves and the old one stopped accepting. */
  reload(): Promise<void>;
}

/** nginx checking natively for `hosts` on one port. */
export async function startNativeNginx(
  world: World,
  hosts: string[],
  port: number,
  options: NativeOptions & { checkLog?: string; httpDirectives?: string[] } = {},
): Promise<RunningNativeNginx> {
  const out = tempDir("nginx-native-out");
  try {
    await writeNativeNginx(world, hosts, port, out.path, options);
    if (options.checkLog) logCheckServer(out.path, options.checkLog);
    // nginx includes DIR/*.conf in name order: the alphabetically first host is the default server.
    const running = await startNginx([...(options.httpDirectives ?? []), `include ${out.path}/*.conf;`], [port], { njs: true });
    return {
      ...running,
      dir: out.path,
      reload: async () => {
        const count = (text: string, what: string) => text.split(what).length - 1;
        const before = running.process.output();
        process.kill(running.process.pid, "SIGHUP");
        const deadline = Date.now() + 10_000;
        for (;;) {
          const now = running.process.output();
          if (count(now, "gracefully shutting down") > count(before, "gracefully shutting down") && count(now, "start worker process") > count(before, "start worker process")) return;
          if (now.includes("[emerg]") && !before.includes("[emerg]")) throw new Error(`nginx refused the new configuration:\n${now.slice(before.length)}`);
          if (Date.now() > deadline) throw new Error(`nginx did not reload in time:\n${now.slice(-2000)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      stop: async () => {
        await running.stop();
        out.remove();
      },
    };
  } catch (error) {
    out.remove();
    throw error;
  }
}
