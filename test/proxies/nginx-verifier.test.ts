/**
 * nginx's auth_request to the local verifier (--check local, nginx without njs), the
 * verifier fed by the signer in workerd (deny-list from KV) and on Node: the whole proxy
 * contract, sign-out included (refused once the verifier's 200 ms poll has seen it and
 * nginx's copy of the approval, 2 s here, has run out). Then the approval cache itself:
 * nginx asks the verifier through a relay that counts what reaches it.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERIFY_LEEWAY_SECONDS } from "../../worker/tokens/verify.js";
import { startCountingRelay, type CountingRelay } from "../support/counting-relay.js";
import { RUNTIMES } from "../support/signer.js";
import { startVerifier, type VerifierUnderTest } from "../support/verifier.js";
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { forgeryKit, type ForgeryKit } from "./support/forged-tokens.js";
import { send, type Reply } from "./support/http-client.js";
import { startNginxLocal } from "./support/nginx-local.js";
import { freePort } from "./support/processes.js";
import type { RunningProxy } from "./support/proxies.js";
import { ADMIN_HOST, COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

for (const runtime of RUNTIMES) {
  describeProxyContract(`nginx auth_request → local verifier, signer in ${runtime}`, () =>
    forwardAuthProxyUnderTest(
      runtime,
      (world, port, verifierUrl) => startNginxLocal(world.env, [ADMIN_HOST, OPEN_HOST], world.upstream.url, verifierUrl, port),
      { localVerifier: { pollMs: 200, proxyCacheSeconds: 2 } },
    ),
  );
}

/** PROXY_APPROVAL_CACHE of the verifier below: nginx is told 3 (it keeps an entry through its last second). */
const CACHE_SECONDS = 4;

describe("nginx → local verifier: the approval cache", () => {
  let world: World;
  let verifier: VerifierUnderTest;
  let uncachedVerifier: VerifierUnderTest;
  let relay: CountingRelay;
  let nginx: RunningProxy;
  let port: number;
  let kit: ForgeryKit;
  let adminKit: ForgeryKit;

  beforeAll(async () => {
    world = await startWorld("node");
    verifier = await startVerifier(world.signer.url, { REVOCATIONS_POLL: "200ms", PROXY_APPROVAL_CACHE: `${CACHE_SECONDS}s` });
    uncachedVerifier = await startVerifier(world.signer.url, { REVOCATIONS_POLL: "200ms", PROXY_APPROVAL_CACHE: "0" });
    await Promise.all([verifier.ready(), uncachedVerifier.ready()]);
    relay = await startCountingRelay(verifier.url);
    port = await freePort();
    // Cache settings a site may have in its http { } block: the generated location must not inherit them.
    const inherited = [
      "proxy_cache_valid any 10m;",
      "proxy_cache_use_stale error timeout updating http_500 http_502;",
      "proxy_intercept_errors on;",
      // A key without the credentials, X-Accel-Expires ignored, nothing kept from caching:
      // the location sets its own, so approvals stay per Cookie header and refusals uncached.
      "proxy_cache_key $host;",
      "proxy_ignore_headers X-Accel-Expires Set-Cookie Vary;",
      "proxy_no_cache 0;",
      "proxy_cache_methods GET HEAD POST;",
      "proxy_cache_convert_head off;",
    ];
    nginx = await startNginxLocal(world.env, [ADMIN_HOST, OPEN_HOST], world.upstream.url, relay.url, port, { httpDirectives: inherited });
    kit = await forgeryKit(world.signingKey, { sub: world.user.id, name: world.user.name, roles: ["user"] });
    adminKit = await forgeryKit(world.signingKey, { sub: world.admin.id, name: world.admin.name, roles: ["user", "admin"] });
  });
  afterAll(async () => {
    await nginx?.stop();
    await relay?.close();
    await verifier?.close();
    await uncachedVerifier?.close();
    await world?.close();
  });

  /** How many times nginx has asked the verifier so far. */
  const asks = (): number => relay.count("/verify");
  /** A Cookie header with our cookie(s) and a cookie of this case's own (the check ignores it; the cache key does not). */
  const cookieHeader = (...tokens: string[]): string => [`case=${randomUUID()}`, ...tokens.map((t) => `${COOKIE_NAME}=${t}`)].join("; ");
  const get = (cookie: string | undefined, host = OPEN_HOST): Promise<Reply> =>
    send(port, { host: `${host}:${port}`, path: `/t/${randomUUID()}`, headers: { Accept: "application/json", ...(cookie ? { Cookie: cookie } : {}) } });
  const statuses = async (requests: Array<() => Promise<Reply>>): Promise<number[]> => {
    const seen: number[] = [];
    for (const request of requests) seen.push((await request()).status);
    return seen;
  };
  /** A request whose answer the relay holds back 1.3 s: it reaches nginx a second after the verifier checked. */
  const getAnsweredLate = async (cookie: string): Promise<Reply> => {
    relay.delayAnswers(1_300);
    try {
      return await get(cookie);
    } finally {
      relay.delayAnswers(0);
    }
  };
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);
  /** Resolves once the clock has reached Unix second `second`, plus a little. */
  const untilSecond = async (second: number): Promise<void> => {
    const wait = second * 1000 + 150 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };

  it("asks the verifier once for repeat requests with one Cookie header, and again once its X-Accel-Expires has run out", async () => {
    const start = nowSeconds();
    const cookie = cookieHeader(await kit.signed());
    const before = asks();
    expect(await statuses(Array.from({ length: 5 }, () => () => get(cookie)))).toEqual([200, 200, 200, 200, 200]);
    expect(asks() - before).toBe(1);

    // Any other Cookie header is another key.
    expect((await get(`${cookie}; theme=dark`)).status).toBe(200);
    expect(asks() - before).toBe(2);

    // Told CACHE_SECONDS - 1 at second `start` (or the next): gone by start + CACHE_SECONDS + 1.
    await untilSecond(start + CACHE_SECONDS + 1);
    expect((await get(cookie)).status).toBe(200);
    expect(asks() - before).toBe(3);
    // The new approval replaced the old one's file, which nginx still holds open
    // (open_file_cache): the next requests read the new one, not the expired one again.
    expect(await statuses(Array.from({ length: 5 }, () => () => get(cookie)))).toEqual([200, 200, 200, 200, 200]);
    expect(asks() - before).toBe(3);
  });

  it("asks the verifier once for a whole page view (the page and 30 assets, six at a time as a browser loads them)", async () => {
    const cookie = cookieHeader(await kit.signed());
    const before = asks();
    const page = await send(port, { host: `${OPEN_HOST}:${port}`, path: "/dashboard", headers: { Accept: "text/html", Cookie: cookie } });
    expect(page.status).toBe(200);
    const assets = Array.from({ length: 30 }, (_, i) => `/static/${i}.js`);
    for (let i = 0; i < assets.length; i += 6) {
      const replies = await Promise.all(assets.slice(i, i + 6).map((path) => send(port, { host: `${OPEN_HOST}:${port}`, path, headers: { Accept: "*/*", Cookie: cookie } })));
      expect(replies.map((r) => r.status)).toEqual(Array(replies.length).fill(200));
    }
    expect(asks() - before).toBe(1);
  });

  it("never caches a refusal, nor an approval of several values under the cookie's name", async () => {
    const forged = cookieHeader((await kit.forgeries(await kit.signed())).find(([name]) => name === "tampered signature")![1]);
    let before = asks();
    expect(await statuses([() => get(forged), () => get(forged), () => get(forged)])).toEqual([401, 401, 401]);
    expect(asks() - before).toBe(3);

    // A 403 asks twice: the check, then the verifier's own 403 page (error_page 403).
    const user = cookieHeader(await kit.signed());
    before = asks();
    expect(await statuses([() => get(user, ADMIN_HOST), () => get(user, ADMIN_HOST)])).toEqual([403, 403]);
    expect(asks() - before).toBe(4);

    before = asks();
    expect(await statuses([() => get(undefined), () => get(undefined)])).toEqual([401, 401]);
    expect(asks() - before).toBe(2);

    // Two of the user's valid tokens: allowed (the newest counts), but the answer also depends
    // on how the other value fares later, so the verifier tells nginx not to keep it.
    const now = nowSeconds();
    const two = cookieHeader(await kit.signed({ iat: now - 60 }), await kit.signed());
    before = asks();
    expect(await statuses([() => get(two), () => get(two)])).toEqual([200, 200]);
    expect(asks() - before).toBe(2);

    // The admin's token is allowed on the admin host, once asked.
    const admin = cookieHeader(await adminKit.signed());
    before = asks();
    expect(await statuses([() => get(admin, ADMIN_HOST), () => get(admin, ADMIN_HOST)])).toEqual([200, 200]);
    expect(asks() - before).toBe(1);
  });

  it("does not use an approval past the token's exp + leeway", async () => {
    // Accepted by the check through second checked + 2 (exp + leeway), less than the cache's 3:
    // nginx may keep the approval through checked + 1, one second short, as the native check does.
    const checked = nowSeconds() + 1;
    const lastAccepted = checked + 2;
    const cookie = cookieHeader(await kit.signed({ iat: checked - 600, nbf: checked - 600, exp: lastAccepted - VERIFY_LEEWAY_SECONDS }));
    await untilSecond(checked);
    const before = asks();
    expect(await statuses([() => get(cookie), () => get(cookie)])).toEqual([200, 200]);
    expect(asks() - before).toBe(1);
    await untilSecond(lastAccepted); // accepted, but no longer kept: asked again
    expect((await get(cookie)).status).toBe(200);
    expect(asks() - before).toBe(2);
    await untilSecond(lastAccepted + 1); // the first second the check refuses it
    const refused = await get(cookie);
    expect(refused.status, refused.body).toBe(401);
    expect(asks() - before).toBe(3);
  });

  // The verifier reads its clock when it checks; its answer can reach nginx in a later second
  // (a slow hop, a busy verifier, a key fetch for a new kid). How long nginx keeps it must not
  // depend on when it arrives: the relay holds the answer back 1.3 s.
  it("does not use an approval past the token's exp + leeway when the answer reaches nginx in a later second", async () => {
    const checked = nowSeconds() + 1;
    const lastAccepted = checked + 2; // exp + leeway: nginx may keep it through checked + 1, less than the cache's 3 s
    const cookie = cookieHeader(await kit.signed({ iat: checked - 600, nbf: checked - 600, exp: lastAccepted - VERIFY_LEEWAY_SECONDS }));
    await untilSecond(checked);
    expect((await getAnsweredLate(cookie)).status).toBe(200);
    const before = asks();
    await untilSecond(lastAccepted + 1); // the first second the check refuses it
    const refused = await get(cookie);
    expect(refused.status, refused.body).toBe(401);
    expect(asks() - before).toBe(1);
  });

  it("keeps an approval at most PROXY_APPROVAL_CACHE after the verifier checked, however late it reached nginx", async () => {
    const checked = nowSeconds() + 1;
    const cookie = cookieHeader(await kit.signed());
    await untilSecond(checked);
    expect((await getAnsweredLate(cookie)).status).toBe(200);
    const before = asks();
    // Checked in second `checked`: kept at most through second checked + CACHE_SECONDS - 1.
    await untilSecond(checked + CACHE_SECONDS);
    expect((await get(cookie)).status).toBe(200);
    expect(asks() - before).toBe(1);
  });

  it("keeps nothing when the verifier's PROXY_APPROVAL_CACHE is 0", async () => {
    relay.retarget(uncachedVerifier.url);
    try {
      const cookie = cookieHeader(await kit.signed());
      const before = asks();
      expect(await statuses([() => get(cookie), () => get(cookie), () => get(cookie)])).toEqual([200, 200, 200]);
      expect(asks() - before).toBe(3);
    } finally {
      relay.retarget(verifier.url);
    }
  });
});
