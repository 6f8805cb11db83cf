/**
 * Caddy (forward_auth → /verify), nginx (signer: auth_request → /verify?redirect=false),
 * nginx native (njs, --check native --out DIR) and HAProxy (native jwt_verify with the
 * signer's /public-key.pem) in front of one World, each started
 * once with the generator's config for OPEN_HOST and ADMIN_HOST, exactly as caddy.test.ts,
 * nginx.test.ts and haproxy.test.ts set them up. For suites that run the same table of
 * requests through every proxy (test/security/). A missing binary fails, never skips.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { caddySite, generated } from "./generated.js";
import { freePort, tempDir } from "./processes.js";
import { startNativeNginx } from "./nginx-native.js";
import { startCaddy, startHaproxy, startNginx, type RunningProxy } from "./proxies.js";
import { ADMIN_HOST, OPEN_HOST, type World } from "./world.js";

export type ProxyName = "caddy" | "nginx" | "nginx-native" | "haproxy";

export interface ProxyTarget {
  name: ProxyName;
  /** How it checks the cookie, for tables: "Caddy forward_auth", … */
  label: string;
  /** Caddy and nginx (signer) ask /verify on every request (so they see the deny-list); native checkers do not. */
  asksSignerPerRequest: boolean;
  port(host: string): number;
  /** The Host header a browser sends for `host`. */
  authority(host: string): string;
  /** What the proxy printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const HOSTS = [ADMIN_HOST, OPEN_HOST]; // nginx: the first block is the port's default server

function onePort(name: ProxyName, label: string, port: number, running: RunningProxy, asks: boolean): ProxyTarget {
  return {
    name,
    label,
    asksSignerPerRequest: asks,
    port: () => port,
    authority: (host) => `${host}:${port}`,
    output: () => running.process.output(),
    stop: () => running.stop(),
  };
}

async function caddy(world: World): Promise<ProxyTarget> {
  const port = await freePort();
  const sites = HOSTS.map((host) => caddySite(world.env, host, world.upstream.url, world.signer.url, port));
  return onePort("caddy", "Caddy forward_auth", port, await startCaddy(sites, [port]), true);
}

async function nginx(world: World): Promise<ProxyTarget> {
  const port = await freePort();
  const servers = HOSTS.map((host) =>
    generated(
      ["nginx", "--host", host, "--upstream", world.upstream.url, "--check", "signer", "--signer", world.signer.url, "--listen", `127.0.0.1:${port}`],
      world.env,
    ),
  );
  return onePort("nginx", "nginx (signer) auth_request", port, await startNginx(servers, [port]), true);
}

async function nginxNative(world: World): Promise<ProxyTarget> {
  const port = await freePort();
  return onePort("nginx-native", "nginx native (njs)", port, await startNativeNginx(world, HOSTS, port), false);
}

async function haproxy(world: World): Promise<ProxyTarget> {
  const keys = tempDir("haproxy-key");
  try {
    const pem = join(keys.path, "jwt-cookie.pem");
    const response = await fetch(`${world.signer.url}/public-key.pem`);
    if (response.status !== 200) throw new Error(`GET /public-key.pem gave ${response.status}`);
    writeFileSync(pem, await response.text());
    const ports = new Map<string, number>();
    for (const host of HOSTS) ports.set(host, await freePort());
    const configs = [...ports].map(([host, port]) =>
      generated(["haproxy", "--host", host, "--upstream", world.upstream.url, "--listen", `127.0.0.1:${port}`, "--pem-path", pem], world.env),
    );
    const running = await startHaproxy(configs, [...ports.values()]);
    return {
      name: "haproxy",
      label: "HAProxy jwt_verify",
      asksSignerPerRequest: false,
      port: (host) => {
        const port = ports.get(host);
        if (port === undefined) throw new Error(`HAProxy has no frontend for ${host}`);
        return port;
      },
      authority: (host) => `${host}:${ports.get(host)}`,
      output: () => running.process.output(),
      stop: async () => {
        await running.stop();
        keys.remove();
      },
    };
  } catch (error) {
    keys.remove();
    throw error;
  }
}

/** All of them, started in parallel; if one fails to start, the others are stopped and the error is thrown. */
export async function startAllProxies(world: World): Promise<ProxyTarget[]> {
  const results = await Promise.allSettled([caddy(world), nginx(world), nginxNative(world), haproxy(world)]);
  const started = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    await Promise.allSettled(started.map((proxy) => proxy.stop()));
    throw failed[0];
  }
  return started;
}
