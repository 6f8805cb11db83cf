/**
 * nginx --check native as a user sets it up: `npm run proxy-config -- nginx --check native
 * --out DIR` for each host (keys fetched from the signer's JWKS), then `include DIR/*.conf;`
 * in the http context of an nginx whose main config loads the njs module.
 */
import { buildProxyConfig, writeOutDir } from "../../../scripts/proxy-config/out-dir.js";
import { tempDir } from "./processes.js";
import { startNginx, type RunningProxy } from "./proxies.js";
import type { World } from "./world.js";

/** Writes each host's config into one --out directory, as the CLI does. */
export async function writeNativeNginx(world: World, hosts: string[], port: number, dir: string, extra: string[] = []): Promise<void> {
  for (const host of hosts) {
    const args = ["nginx", "--host", host, "--upstream", world.upstream.url, "--check", "native", "--signer", world.signer.url];
    const result = await buildProxyConfig([...args, "--out", dir, "--listen", `127.0.0.1:${port}`, ...extra], world.env);
    if (!result.ok) throw new Error(result.error);
    writeOutDir(result);
  }
}

/** nginx checking natively for `hosts` on one port. */
export async function startNativeNginx(world: World, hosts: string[], port: number): Promise<RunningProxy> {
  const out = tempDir("nginx-native-out");
  try {
    await writeNativeNginx(world, hosts, port, out.path);
    // nginx includes DIR/*.conf in name order: the alphabetically first host is the default server.
    const running = await startNginx([`include ${out.path}/*.conf;`], [port], { njs: true });
    return {
      ...running,
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
