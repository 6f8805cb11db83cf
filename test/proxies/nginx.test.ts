/**
 * Debian's nginx 1.22 (open source) with the generated auth_request config (--check
 * signer: a subrequest to the signer's /verify per request), signer in workerd. The admin-only host's server block comes first, so it is the default server
 * for the port: a request with an unknown Host lands there and must still get its rules.
 */
import { randomUUID } from "node:crypto";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVerifier, type VerifierUnderTest } from "../support/verifier.js";
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { generated } from "./support/generated.js";
import { send } from "./support/http-client.js";
import { freePort, tempDir } from "./support/processes.js";
import { startNginx, type RunningProxy } from "./support/proxies.js";
import { ADMIN_HOST, COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

describeProxyContract("nginx auth_request (--check signer), signer in workerd", () =>
  forwardAuthProxyUnderTest("workerd", (world, port) =>
    startNginx(
      [
        // A site setting some apps need: header names with underscores pass. The config must
        // still keep a client's Remote_User from the upstream.
        "underscores_in_headers on;",
        ...[ADMIN_HOST, OPEN_HOST].map((host) =>
          generated(
            ["nginx", "--host", host, "--upstream", world.upstream.url, "--check", "signer", "--signer", world.signer.url, "--listen", `127.0.0.1:${port}`],
            world.env,
          ),
        ),
      ],
      [port],
    ),
  ),
);

/**
 * A site whose http { } caches everything it proxies (proxy_cache with a zone, every status
 * kept for 10 minutes, the checker's caching headers ignored): the generated locations that
 * ask a checker must not let it keep one visitor's answer for another. The auth subrequest's
 * URI is the same for everyone, so under nginx's default key one approval would let in anyone.
 */
describe("a site-wide proxy_cache in http { } does not reach the checks", () => {
  let world: World;
  let verifier: VerifierUnderTest;
  const running: RunningProxy[] = [];
  const ports = new Map<string, number>();
  let caches: { path: string; remove(): void };

  beforeAll(async () => {
    world = await startWorld("node");
    verifier = await startVerifier(world.signer.url, { REVOCATIONS_POLL: "200ms" });
    await verifier.ready();
    caches = tempDir("nginx-site-cache");
    chmodSync(caches.path, 0o755);
    const siteCache = [
      `proxy_cache_path ${join(caches.path, "site")} keys_zone=site_cache:1m use_temp_path=off;`,
      "proxy_cache site_cache;",
      "proxy_cache_valid any 10m;",
      "proxy_ignore_headers Cache-Control Expires X-Accel-Expires Set-Cookie Vary;",
    ];
    for (const check of ["signer", "local"] as const) {
      const port = await freePort();
      ports.set(check, port);
      const checker = (host: string) => (check === "signer" ? ["--signer", world.signer.url] : ["--verifier", verifier.url, "--cache-dir", join(caches.path, host)]);
      const servers = [ADMIN_HOST, OPEN_HOST].map((host) =>
        generated(["nginx", "--host", host, "--upstream", world.upstream.url, "--check", check, ...checker(host), "--listen", `127.0.0.1:${port}`], world.env),
      );
      running.push(await startNginx([...siteCache, ...servers], [port]));
    }
  });
  afterAll(async () => {
    for (const proxy of running) await proxy.stop();
    await verifier?.close();
    await world?.close();
    caches?.remove();
  });

  for (const check of ["signer", "local"] as const) {
    it(`--check ${check}: an approval, or the 403 page, is never handed to another visitor`, async () => {
      const port = ports.get(check)!;
      const proxy = running[check === "signer" ? 0 : 1]!;
      const get = (host: string, headers: Record<string, string>) =>
        send(port, { host: `${host}:${port}`, path: `/t/${randomUUID()}`, headers: { Accept: "application/json", ...headers } });
      const user = `${COOKIE_NAME}=${await world.cookieFor(world.user)}`;
      const admin = `${COOKIE_NAME}=${await world.cookieFor(world.admin)}`;
      expect((await get(OPEN_HOST, { Cookie: user })).status, proxy.process.output()).toBe(200);
      expect((await get(OPEN_HOST, {})).status).toBe(401);
      expect((await get(OPEN_HOST, { Cookie: `${COOKIE_NAME}=a.b.c` })).status).toBe(401);
      // The admin-only host: the user's 403 page, then the admin's own answer.
      expect((await get(ADMIN_HOST, { Cookie: user })).status).toBe(403);
      expect((await get(ADMIN_HOST, { Cookie: admin })).status).toBe(200);
      expect((await get(ADMIN_HOST, { Cookie: user })).status).toBe(403);
      expect((await get(ADMIN_HOST, {})).status).toBe(401);
    });
  }
});

/**
 * A hand-written auth_request to the local verifier (the usual recipe, without the generated
 * config's own cache settings) in a site whose http { } caches what the backends' X-Accel-Expires
 * allows and ignores their Cache-Control (as micro-caching sites do; from nginx 1.23 on,
 * X-Accel-Expires wins over "Cache-Control: no-store" even without that). The verifier tells
 * X-Accel-Expires only to a config that asks for it with ?approval_cache=keyed (its cache keyed
 * by the visitor's Cookie and Authorization): told to this one, nginx would keep the first
 * approval under the subrequest's URI, the same for every visitor, and let strangers in.
 */
describe("a hand-written auth_request to the local verifier under a site-wide proxy_cache", () => {
  let world: World;
  let verifier: VerifierUnderTest;
  let proxy: RunningProxy;
  let port: number;
  let caches: { path: string; remove(): void };

  beforeAll(async () => {
    world = await startWorld("node");
    verifier = await startVerifier(world.signer.url);
    await verifier.ready();
    caches = tempDir("nginx-hand-written-cache");
    chmodSync(caches.path, 0o755);
    port = await freePort();
    proxy = await startNginx(
      [
        `proxy_cache_path ${join(caches.path, "site")} keys_zone=site_cache:1m use_temp_path=off;`,
        "proxy_cache site_cache;",
        "proxy_ignore_headers Cache-Control Expires;",
        `server {
    listen 127.0.0.1:${port};
    server_name ${OPEN_HOST};
    location / {
        auth_request /auth;
        auth_request_set $user $upstream_http_remote_user;
        proxy_set_header Remote-User $user;
        proxy_pass ${world.upstream.url};
    }
    location = /auth {
        internal;
        proxy_pass ${verifier.url}/verify?redirect=false;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Forwarded-Proto http;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Forwarded-Uri $request_uri;
    }
}`,
      ],
      [port],
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await verifier?.close();
    await world?.close();
    caches?.remove();
  });

  it("keeps no approval for the next visitor: a stranger right after a signed-in user is refused", async () => {
    const get = (headers: Record<string, string>) => send(port, { host: `${OPEN_HOST}:${port}`, path: `/t/${randomUUID()}`, headers: { Accept: "application/json", ...headers } });
    const user = `${COOKIE_NAME}=${await world.cookieFor(world.user)}`;
    for (let i = 0; i < 3; i++) {
      expect((await get({ Cookie: user })).status, proxy.process.output()).toBe(200);
      expect((await get({})).status).toBe(401);
      expect((await get({ Cookie: `${COOKIE_NAME}=a.b.c` })).status).toBe(401);
    }
  });
});
