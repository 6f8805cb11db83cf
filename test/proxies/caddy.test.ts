/**
 * Debian's Caddy 2.6 with the generated forward_auth config, in front of the signer in
 * workerd and, the same config, in front of the signer on Node.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SignerRuntime } from "../support/signer.js";
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { caddySite } from "./support/generated.js";
import { send } from "./support/http-client.js";
import { freePort } from "./support/processes.js";
import { startCaddy, type RunningProxy } from "./support/proxies.js";
import { ADMIN_HOST, COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

const setup = (runtime: SignerRuntime) =>
  forwardAuthProxyUnderTest(runtime, (world, port) =>
    startCaddy(
      [OPEN_HOST, ADMIN_HOST].map((host) => caddySite(world.env, host, world.upstream.url, world.signer.url, port)),
      [port],
    ),
  );

describeProxyContract("Caddy forward_auth, signer in workerd", () => setup("workerd"));
describeProxyContract("Caddy forward_auth, signer on Node", () => setup("node"));

/**
 * Caddy keeps the X-Forwarded-* headers of a client it trusts as a proxy (trusted_proxies: a
 * Cloudflare tunnel, a LAN load balancer; a global option since Caddy 2.7, reverse_proxy's own
 * in 2.6, written into the block here). A front proxy that passes its client's own
 * X-Forwarded-Host on must still not let that choose which host's ACCESS_RULES apply.
 */
describe("Caddy forward_auth behind a trusted proxy", () => {
  let world: World;
  let caddy: RunningProxy;
  let port: number;

  beforeAll(async () => {
    world = await startWorld("node");
    port = await freePort();
    const trusting = (site: string) => site.replace("\t\t\turi /verify\n", "\t\t\turi /verify\n\t\t\ttrusted_proxies 127.0.0.1/8\n");
    const sites = [OPEN_HOST, ADMIN_HOST].map((host) => trusting(caddySite(world.env, host, world.upstream.url, world.signer.url, port)));
    expect(sites.every((site) => site.includes("trusted_proxies"))).toBe(true);
    caddy = await startCaddy(sites, [port]);
  });
  afterAll(async () => {
    await caddy?.stop();
    await world?.close();
  });

  it("applies the admin-only host's ACCESS_RULES whatever X-Forwarded-Host the proxy in front passes on", async () => {
    const cookie = `${COOKIE_NAME}=${await world.cookieFor(world.user)}`;
    for (const forwarded of [`${OPEN_HOST}:${port}`, OPEN_HOST, `${OPEN_HOST}, ${ADMIN_HOST}`]) {
      const path = `/t/${randomUUID()}`;
      const reply = await send(port, {
        host: `${ADMIN_HOST}:${port}`,
        path,
        headers: { Accept: "application/json", Cookie: cookie, "X-Forwarded-Host": forwarded },
      });
      expect(reply.status, forwarded).toBe(403);
      expect(world.upstream.received.find((r) => r.url === path)).toBeUndefined();
    }
    // A browser sent to sign in comes back to the host it asked for.
    const browser = await send(port, { host: `${ADMIN_HOST}:${port}`, path: "/x", headers: { Accept: "text/html", "X-Forwarded-Host": OPEN_HOST } });
    expect(browser.status).toBe(302);
    expect(new URL(String(browser.headers.location)).searchParams.get("rd")).toBe(`http://${ADMIN_HOST}:${port}/x`);
  });
});
