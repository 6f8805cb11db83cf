/**
 * nginx --check local as a user sets it up: one generated file per host, included in the
 * http context, asking the local verifier. Each host's approval cache (--cache-dir) is in a
 * temp dir opened to nginx's worker user, as /var/lib/nginx is.
 */
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { generated } from "./generated.js";
import { tempDir } from "./processes.js";
import { startNginx, type RunningProxy } from "./proxies.js";

export interface NginxLocalOptions {
  /** http-level directives before the generated files, e.g. cache settings a site already has. */
  httpDirectives?: string[];
}

/** nginx asking the local verifier at `verifierUrl` for each of `hosts`, on one loopback port. */
export async function startNginxLocal(
  env: Record<string, string>,
  hosts: string[],
  upstream: string,
  verifierUrl: string,
  port: number,
  options: NginxLocalOptions = {},
): Promise<RunningProxy> {
  const caches = tempDir("nginx-approvals");
  try {
    chmodSync(caches.path, 0o755);
    const servers = hosts.map((host) =>
      generated(
        ["nginx", "--host", host, "--upstream", upstream, "--check", "local", "--verifier", verifierUrl, "--listen", `127.0.0.1:${port}`, "--cache-dir", join(caches.path, host)],
        env,
      ),
    );
    const nginx = await startNginx([...(options.httpDirectives ?? []), ...servers], [port]);
    return {
      ...nginx,
      stop: async () => {
        await nginx.stop();
        caches.remove();
      },
    };
  } catch (error) {
    caches.remove();
    throw error;
  }
}
