/**
 * Debian's nginx 1.22 with njs 0.7.9 (libnginx-mod-http-js) checking the cookie itself:
 * the generator's --check native --out DIR, included as a user does (`include DIR/*.conf;`),
 * in front of the signer in workerd and on Node. The admin-only host's file sorts first, so
 * its block is the port's default server: an unknown Host must still get its rules.
 * asksSignerPerRequest is false: nginx never asks the signer, so it cannot see sign-outs.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERIFY_LEEWAY_SECONDS } from "../../worker/tokens/verify.js";
import type { SignerRuntime } from "../support/signer.js";
import { describeProxyContract, forwardAuthName, type ProxyUnderTest } from "./support/contract.js";
import { forgeryKit, type ForgeryKit } from "./support/forged-tokens.js";
import { send, type Reply } from "./support/http-client.js";
import { logCheckServer, startNativeNginx, writeNativeNginx, type RunningNativeNginx } from "./support/nginx-native.js";
import { freePort, tempDir } from "./support/processes.js";
import type { EchoedRequest } from "./support/upstream.js";
import { ADMIN_HOST, COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

async function setup(runtime: SignerRuntime): Promise<ProxyUnderTest> {
  const world = await startWorld(runtime);
  try {
    const port = await freePort();
    // underscores_in_headers on (a site setting some apps need): a client's Remote_User must still not pass.
    const nginx = await startNativeNginx(world, [ADMIN_HOST, OPEN_HOST], port, { httpDirectives: ["underscores_in_headers on;"] });
    return {
      world,
      port: () => port,
      authority: (host) => `${host}:${port}`,
      asksSignerPerRequest: false,
      plantedCookieRule: "signer",
      expectedName: forwardAuthName,
      stop: async () => {
        await nginx.stop();
        await world.close();
      },
    };
  } catch (error) {
    await world.close();
    throw error;
  }
}

describeProxyContract("nginx native (njs), signer in workerd", () => setup("workerd"));
describeProxyContract("nginx native (njs), signer on Node", () => setup("node"));

/**
 * The approval cache (proxy_cache in front of nginx's own check server): what it saves and
 * what it must never change. Every njs run is a request to the check server, counted in a
 * test-only access log (logCheckServer); each case sends its own extra cookie so that it has
 * cache keys of its own. Times are whole seconds, as in the tokens: the cases that wait for
 * a token to expire or become valid wait a few seconds.
 */
describe("nginx native: the approval cache", () => {
  let world: World;
  let nginx: RunningNativeNginx;
  let port: number;
  let checkPort: number;
  let logDir: { path: string; remove(): void };
  let checkLog: string;
  let kit: ForgeryKit;
  let adminKit: ForgeryKit;

  beforeAll(async () => {
    world = await startWorld("node");
    port = await freePort();
    checkPort = await freePort();
    logDir = tempDir("nginx-native-check-log");
    checkLog = join(logDir.path, "check.log");
    // Cache settings a site may have in its http { } block: the generated check must not inherit them.
    const inherited = ["proxy_cache_valid any 10m;", "proxy_cache_use_stale error timeout updating http_500 http_502;", "proxy_intercept_errors on;"];
    nginx = await startNativeNginx(world, [ADMIN_HOST, OPEN_HOST], port, { checkPort, checkLog, httpDirectives: inherited });
    kit = await forgeryKit(world.signingKey, { sub: world.user.id, name: world.user.name, roles: ["user"] });
    adminKit = await forgeryKit(world.signingKey, { sub: world.admin.id, name: world.admin.name, roles: ["user", "admin"] });
  });
  afterAll(async () => {
    await nginx?.stop();
    await world?.close();
    logDir?.remove();
  });

  /** How many times the njs check has run so far. */
  const checks = (): number => (existsSync(checkLog) ? readFileSync(checkLog, "utf8").split("\n").filter(Boolean).length : 0);
  /** A Cookie header with our cookie(s) and a cookie of this case's own (the check ignores it; the cache key does not). */
  const cookieHeader = (...tokens: string[]): string => [`case=${randomUUID()}`, ...tokens.map((t) => `${COOKIE_NAME}=${t}`)].join("; ");
  const get = (cookie: string, host = OPEN_HOST, headers: Record<string, string> = {}): Promise<Reply> =>
    send(port, { host: `${host}:${port}`, path: `/t/${randomUUID()}`, headers: { Accept: "application/json", Cookie: cookie, ...headers } });
  const statuses = async (requests: Array<Promise<Reply>>): Promise<number[]> => (await Promise.all(requests)).map((r) => r.status);
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);
  /** Resolves once the clock has reached Unix second `second`, plus a little. */
  const untilSecond = async (second: number): Promise<void> => {
    const wait = second * 1000 + 150 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };

  it("runs the njs check once for repeat requests with one Cookie header, also a large one, and answers concurrent ones without a lock", async () => {
    const cookie = cookieHeader(await kit.signed());
    const before = checks();
    for (let i = 0; i < 5; i++) expect((await get(cookie)).status).toBe(200);
    expect(checks() - before).toBe(1);

    // Concurrent misses for one key are each answered (no proxy_cache_lock, whose 500 ms
    // polling would hold them up); once one approval is cached, repeats run no check.
    const together = cookieHeader(await kit.signed());
    const beforeTogether = checks();
    expect(await statuses(Array.from({ length: 8 }, () => get(together)))).toEqual(Array(8).fill(200));
    const ranTogether = checks() - beforeTogether;
    expect(ranTogether).toBeGreaterThanOrEqual(1);
    expect(ranTogether).toBeLessThanOrEqual(8);
    for (let i = 0; i < 3; i++) expect((await get(together)).status).toBe(200);
    expect(checks() - beforeTogether).toBe(ranTogether);

    // A Cookie header far over nginx's default 4 kB key buffer is cached all the same.
    const large = `${cookieHeader(await kit.signed())}; grafana_prefs=${"x".repeat(6000)}`;
    const beforeLarge = checks();
    for (let i = 0; i < 3; i++) expect((await get(large)).status).toBe(200);
    expect(checks() - beforeLarge).toBe(1);

    // Any other Cookie header is another key: the same token with one more cookie is checked again.
    const token = await kit.signed();
    const first = cookieHeader(token);
    const beforeOther = checks();
    expect((await get(first)).status).toBe(200);
    expect((await get(`${first}; theme=dark`)).status).toBe(200);
    expect(checks() - beforeOther).toBe(2);
  });

  it("hands the upstream the same identity headers on a hit as on the miss that filled it", async () => {
    const cookie = cookieHeader(await world.cookieFor(world.user));
    const before = checks();
    const seen = [await get(cookie), await get(cookie)].map((reply) => {
      expect(reply.status, reply.body).toBe(200);
      return JSON.parse(reply.body) as EchoedRequest;
    });
    expect(checks() - before).toBe(1); // the first was the miss, the second the hit
    const identity = (e: EchoedRequest) => [e.headers["remote-user"], e.headers["remote-name"], e.headers["remote-groups"]];
    expect(identity(seen[0]!)).toEqual([world.user.id, forwardAuthName(world.user.name), "user"]);
    expect(identity(seen[1]!)).toEqual(identity(seen[0]!));
    // A client's own Remote-* header does not survive a hit either.
    const forged = await get(cookie, OPEN_HOST, { "Remote-User": world.admin.id, "Remote-Groups": "admin" });
    expect(identity(JSON.parse(forged.body) as EchoedRequest)).toEqual(identity(seen[0]!));
  });

  it("takes the host's values from the config, never from the client's own X-Jwt-Cookie-* headers", async () => {
    const user = cookieHeader(await kit.signed());
    const smuggled = {
      "X-Jwt-Cookie-Rule": "{}",
      "X-Jwt-Cookie-Host": OPEN_HOST,
      "X-Jwt-Cookie-Method": "GET",
      "X-Jwt-Cookie-Return-Origin": "https://evil.example",
    };
    // ADMIN_HOST's rule still applies (a plain user gets 403), and the sign-in link still comes back to ADMIN_HOST.
    expect((await get(user, ADMIN_HOST, smuggled)).status).toBe(403);
    const browser = await send(port, { host: `${ADMIN_HOST}:${port}`, path: "/x", headers: { ...smuggled, Accept: "text/html" } });
    expect(browser.status).toBe(302);
    expect(new URL(String(browser.headers.location)).searchParams.get("rd")).toBe(`http://${ADMIN_HOST}:${port}/x`);
  });

  it("does not use an approval past the token's exp + leeway", async () => {
    // exp 7 s ago: the 10 s leeway still accepts it for about 3 s.
    const now = nowSeconds();
    const exp = now - 7;
    const cookie = cookieHeader(await kit.signed({ iat: now - 600, nbf: now - 600, exp }));
    const before = checks();
    expect((await get(cookie)).status).toBe(200);
    expect((await get(cookie)).status).toBe(200);
    expect(checks() - before).toBe(1);
    await untilSecond(exp + VERIFY_LEEWAY_SECONDS + 1); // the first second the check refuses it
    const refused = await get(cookie);
    expect(refused.status, refused.body).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "invalid_session" });
    expect(checks() - before).toBe(2);
  });

  it("never caches a refusal: forged tokens, ACCESS_RULES' 403, and a token that was not valid yet", async () => {
    const forged = cookieHeader((await kit.forgeries(await kit.signed())).find(([name]) => name === "tampered signature")![1]);
    const before = checks();
    expect(await statuses([get(forged), get(forged), get(forged)])).toEqual([401, 401, 401]);
    expect(checks() - before).toBe(3);

    const user = cookieHeader(await kit.signed());
    const beforeDenied = checks();
    expect(await statuses([get(user, ADMIN_HOST), get(user, ADMIN_HOST)])).toEqual([403, 403]);
    expect(checks() - beforeDenied).toBe(2);

    // Refused now (nbf beyond the leeway), valid 2-3 s later: the same Cookie header then passes.
    const now = nowSeconds();
    const nbf = now + VERIFY_LEEWAY_SECONDS + 2;
    const early = cookieHeader(await kit.signed({ iat: now, nbf, exp: now + 600 }));
    expect((await get(early)).status).toBe(401);
    // Beside a valid token of the user, that same not-yet-valid token (of another user) makes
    // the approval uncacheable: once it turns valid, the two users' tokens are ambiguous.
    const mixed = cookieHeader(await kit.signed(), await adminKit.signed({ iat: now, nbf, exp: now + 600 }));
    const beforeMixed = checks();
    expect(await statuses([get(mixed), get(mixed)])).toEqual([200, 200]);
    expect(checks() - beforeMixed).toBe(2);
    await untilSecond(nbf - VERIFY_LEEWAY_SECONDS);
    expect((await get(early)).status).toBe(200);
    const ambiguous = await get(mixed);
    expect(ambiguous.status, ambiguous.body).toBe(401);
    expect(ambiguous.headers["content-type"]).toContain("application/json");
  });

  it("finds no old approval after a key rotation (generator + reload) or an ACCESS_RULES change", async () => {
    const old = cookieHeader(await kit.signed());
    expect(await statuses([get(old), get(old)])).toEqual([200, 200]); // approved and cached

    // The signer now lists only a new key: the generator writes it, nginx reloads.
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const newSigner = (async () => new Response(JSON.stringify({ keys: [{ ...jwk, alg: "ES256", use: "sig" }] }))) as unknown as typeof fetch;
    const rewrite = async (env: Record<string, string>) => {
      await writeNativeNginx(world, [ADMIN_HOST, OPEN_HOST], port, nginx.dir, { checkPort, fetchImpl: newSigner, env });
      logCheckServer(nginx.dir, checkLog);
      await nginx.reload();
    };
    await rewrite(world.env);
    const before = checks();
    const refused = await get(old);
    expect(refused.status, refused.body).toBe(401);
    expect(checks() - before).toBe(1);

    const rotated = await forgeryKit(privateKey.export({ format: "pem", type: "pkcs8" }).toString(), { sub: world.user.id, name: world.user.name, roles: ["user"] });
    const fresh = cookieHeader(await rotated.signed());
    expect(await statuses([get(fresh), get(fresh)])).toEqual([200, 200]); // approved and cached

    // OPEN_HOST now needs the admin role.
    await rewrite({ ...world.env, ACCESS_RULES: JSON.stringify({ [ADMIN_HOST]: { roles: ["admin"] }, [OPEN_HOST]: { roles: ["admin"] } }) });
    const denied = await get(fresh);
    expect(denied.status, denied.body).toBe(403);
  });
});
