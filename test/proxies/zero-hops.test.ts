/**
 * "Check the cookie where the request already is": a page with many assets, loaded through
 * each native checker (nginx with njs, HAProxy), makes no request to the signer. The signer
 * is reached only through a counting HTTP proxy in front of it, which is the address every
 * config is generated with (--signer); the count is taken after the keys were fetched. The
 * same page through nginx --check signer, generated against the same counter, is the
 * control: it must count one request per asset, so a zero cannot come from a dead counter.
 */
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProxyConfig, writeOutDir } from "../../scripts/proxy-config/out-dir.js";
import { generated } from "./support/generated.js";
import { send } from "./support/http-client.js";
import { startNativeNginx } from "./support/nginx-native.js";
import { freePort, tempDir } from "./support/processes.js";
import { startHaproxy, startNginx, type RunningProxy } from "./support/proxies.js";
import { COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

const ASSETS = 29; // plus the page itself: 30 requests per page view

interface CountingProxy {
  url: string;
  paths: string[];
  close(): Promise<void>;
}

/** Forwards every request to `target` and remembers its path. */
async function countingProxy(target: URL): Promise<CountingProxy> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One page view: the HTML navigation, then its assets, six at a time as a browser does. */
async function pageView(port: number, cookie: string): Promise<number[]> {
  const host = `${OPEN_HOST}:${port}`;
  const statuses = [(await send(port, { host, path: "/dashboard", headers: { Accept: "text/html", Cookie: `${COOKIE_NAME}=${cookie}` } })).status];
  const assets = Array.from({ length: ASSETS }, (_, i) => `/static/${i}.${["js", "css", "png"][i % 3]}`);
  for (let i = 0; i < assets.length; i += 6) {
    const batch = assets.slice(i, i + 6).map((path) => send(port, { host, path, headers: { Accept: "*/*", Cookie: `${COOKIE_NAME}=${cookie}` } }));
    statuses.push(...(await Promise.all(batch)).map((reply) => reply.status));
  }
  return statuses;
}

describe("a page view with many assets through the native checkers reaches the signer 0 times", () => {
  let world: World;
  let counter: CountingProxy;
  const running: RunningProxy[] = [];
  const ports = new Map<string, number>();
  const dirs: Array<{ remove(): void }> = [];
  let cookie: string;

  beforeAll(async () => {
    world = await startWorld("workerd");
    counter = await countingProxy(new URL(world.signer.url));
    const viaCounter = { ...world, signer: { ...world.signer, url: counter.url } } as World;

    ports.set("nginx native", await freePort());
    running.push(await startNativeNginx(viaCounter, [OPEN_HOST], ports.get("nginx native")!));

    ports.set("haproxy native", await freePort());
    const out = tempDir("zero-hops-haproxy");
    dirs.push(out);
    const args = ["haproxy", "--host", OPEN_HOST, "--upstream", world.upstream.url, "--signer", counter.url];
    const haproxy = await buildProxyConfig([...args, "--out", out.path, "--listen", `127.0.0.1:${ports.get("haproxy native")}`], world.env);
    if (!haproxy.ok) throw new Error(haproxy.error);
    writeOutDir(haproxy);
    running.push(await startHaproxy([haproxy.config], [ports.get("haproxy native")!]));

    ports.set("nginx --check signer (control)", await freePort());
    const control = generated(
      ["nginx", "--host", OPEN_HOST, "--upstream", world.upstream.url, "--check", "signer", "--signer", counter.url, "--listen", `127.0.0.1:${ports.get("nginx --check signer (control)")}`],
      world.env,
    );
    running.push(await startNginx([control], [ports.get("nginx --check signer (control)")!]));

    // Setting up fetched the keys through the counter, once per generated native config.
    expect(counter.paths).toEqual(["/.well-known/jwks.json", "/.well-known/jwks.json"]);
    cookie = await world.cookieFor(world.user); // straight from the signer, not counted
  });

  afterAll(async () => {
    await Promise.allSettled(running.map((proxy) => proxy.stop()));
    for (const dir of dirs) dir.remove();
    await counter?.close();
    await world?.close();
  });

  it.each([
    ["nginx native", 0],
    ["haproxy native", 0],
    ["nginx --check signer (control)", ASSETS + 1],
  ])("%s: %i requests reach the signer for a page of 30 requests", async (name, expected) => {
    const before = counter.paths.length;
    const upstreamBefore = world.upstream.received.length;
    const statuses = await pageView(ports.get(name)!, cookie);
    expect(statuses).toEqual(Array.from({ length: ASSETS + 1 }, () => 200));
    expect(world.upstream.received.length - upstreamBefore).toBe(ASSETS + 1);
    expect(counter.paths.slice(before)).toHaveLength(expected);
    if (expected > 0) expect(counter.paths.slice(before).every((path) => path.startsWith("/verify"))).toBe(true);
  });
});
