/**
 * Faults under load (issue 5): single flight at scale, Home Assistant disappearing in the
 * middle of a run, bounded memory, and cookies that survive a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../ha-double/index.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner } from "../support/signer.js";
import { hs256 } from "../support/tokens.js";
import { createAccessTokenPrecheck, MAX_HA_TOKEN_LENGTH } from "../../worker/home-assistant/access-token-precheck.js";
import { createIdentityLookup } from "../../worker/home-assistant/identity-lookup.js";
import { createRateLimiter } from "../../worker/http/rate-limit.js";
import { createHaSessionIndex } from "../../worker/tokens/ha-session-index.js";
import { importKeyRing, generateKeyPair } from "../../worker/tokens/keys.js";
import { memoryRevocationList } from "../../worker/tokens/revocation-list.js";
import { sessionClaims, signJwt } from "../../worker/tokens/sign.js";
import { createVerifier } from "../../worker/tokens/verify.js";

describe.each(RUNTIMES)("under load on %s", (runtime) => {
  let ha: HomeAssistantDouble;
  let signer: RunningSigner;
  let env: Record<string, string>;

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    env = {
      HA_URL: ha.url,
      SIGNING_KEY: await testSigningKey(),
      RATE_LIMIT: "1000000",
      HA_TIMEOUT: "15000",
      COOKIE_SECURE: "false",
      // One lookup per token holds while a burst lasts less than HA_ANSWER_MAX_AGE (default 10 s);
      // after that, asking Home Assistant again is right. 1,000 requests through fetch() have taken
      // 17 s here on a shared, overloaded machine, so this run allows the longest age (60 s).
      // npm run bench measures the same count with the default (1.00 per token).
      HA_ANSWER_MAX_AGE: "60",
      // Caches and single flight under load are under test here, not the ban guard: with a
      // threshold it lets threshold-2 new tokens reach Home Assistant at a time (the rest queue),
      // which test/worker/home-assistant/ban-guard.test.ts and ha-ban-guard.test.ts cover.
      HA_LOGIN_ATTEMPTS_THRESHOLD: "off",
    };
    signer = await startSigner(runtime, env);
  });
  afterAll(async () => {
    await signer.close();
    await ha.close();
  });

  test("1,000 concurrent /session requests over 50 valid tokens → exactly 50 lookups, each answered with its own user", async () => {
    const users: DoubleUser[] = Array.from({ length: 50 }, (_, i) => ha.addUser({ name: `user${i}` }));
    const tokens = users.map((u) => ha.accessToken(u.id));
    ha.resetStats();
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${tokens[i % 50]}` } });
        return { i, status: response.status, body: (await response.json()) as { user?: { id: string } } };
      }),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    for (const r of results) expect(r.body.user?.id).toBe(users[r.i % 50]!.id);
    expect(ha.stats.authMessages).toBe(50);
    expect(ha.stats.currentUserRequests).toBe(50);
    expect(ha.stats.failedLogins()).toBe(0);
  });

  test("Home Assistant stopped mid-run → prompt 502s with a clear code and no cookie; it resumes by itself", async () => {
    const users = Array.from({ length: 20 }, (_, i) => ha.addUser({ name: `mid${i}` }));
    const tokens = users.map((u) => ha.accessToken(u.id));
    const outcomes: Array<{ status: number; error?: string; cookie: boolean; ms: number }> = [];
    const fire = async (token: string) => {
      const t0 = Date.now();
      const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { error?: string };
      outcomes.push({ status: response.status, error: body.error, cookie: response.headers.has("set-cookie"), ms: Date.now() - t0 });
    };
    await Promise.all(tokens.slice(0, 10).map(fire)); // up
    await ha.stop();
    try {
      await Promise.all(tokens.slice(10, 20).map(fire)); // down: fresh tokens, not cached
    } finally {
      await ha.start();
    }
    const up = outcomes.slice(0, 10);
    const down = outcomes.slice(10);
    expect(up.every((o) => o.status === 200 && o.cookie)).toBe(true);
    expect(down.every((o) => o.status === 502 && o.error === "ha_unreachable" && !o.cookie)).toBe(true);
    expect(Math.max(...down.map((o) => o.ms))).toBeLessThan(2000);
    // Back up: the same tokens that failed while it was down now work (transient failures are not cached).
    outcomes.length = 0;
    await Promise.all(tokens.slice(10, 20).map(fire));
    expect(outcomes.every((o) => o.status === 200 && o.cookie)).toBe(true);
  });

  test("a restarted signer (new process / new isolate) still verifies cookies issued before: the key is stable", async () => {
    const user = ha.addUser({ name: "stable" });
    const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(user.id)}` } });
    const cookie = response.headers.get("set-cookie")!.split(";")[0]!;
    const fresh = await startSigner(runtime, env);
    try {
      const verified = await fetch(`${fresh.url}/verify`, { headers: { Cookie: cookie } });
      expect(verified.status).toBe(200);
      expect(verified.headers.get("remote-user")).toBe(user.id);
    } finally {
      await fresh.close();
    }
  });
});

describe("memory stays bounded", () => {
  // Documented in docs/architecture.md: each cache holds at most CACHE_MAX_ENTRIES entries.
  const MAX = 10_000;
  const heapMb = () => process.memoryUsage().heapUsed / 1024 / 1024;

  test("100,000 distinct tokens through every cache leave each at its bound and the heap within 64 MB of growth", async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error("run with --expose-gc (vitest.config.ts passes it) so the heap can be measured");
    gc();
    const before = heapMb();
    const identity = createIdentityLookup({ fetchUser: async (t) => ({ id: t.slice(0, 32), name: "n", is_admin: false, is_owner: false }), maxEntries: MAX, maxAnswerAgeSeconds: 60 });
    const haSessions = createHaSessionIndex(memoryRevocationList(MAX), MAX);
    const limiter = createRateLimiter(60, MAX);
    const accessTokens = createAccessTokenPrecheck(MAX);
    const pair = await generateKeyPair();
    const keys = await importKeyRing(pair.privatePem, []);
    const verifier = createVerifier(keys, { issuer: "homeassistant", audience: ["homeassistant"], cacheMaxEntries: MAX });
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 1800;
    for (let i = 0; i < 100_000; i++) {
      const token = `token-${i}-${"x".repeat(180)}`;
      const issuer = i.toString(16).padStart(32, "0");
      await identity.lookup(token, { issuer, expiresAt: exp }, now);
      await haSessions.record({ token, issuer, expiresAt: exp }, { jti: `jti-${i}`, exp, sub: `user-${i}` }, now);
      limiter.take(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, now);
      expect(accessTokens.check(hs256({ alg: "HS256", typ: "JWT" }, { iss: issuer, iat: exp - 1800, exp }, "k"), exp - 1800).ok).toBe(true);
    }
    // Distinct valid JWTs for the verifier cache (signing is the slow part: 12,000 is enough to pass the bound).
    for (let i = 0; i < 12_000; i++) {
      const jwt = await signJwt(keys, sessionClaims({ id: `u${i}`, name: "n", is_admin: false, is_owner: false }, { issuer: "homeassistant", audience: ["homeassistant"], ttl: 1800, now }));
      expect((await verifier.verify(jwt, now)).ok).toBe(true);
    }
    expect(identity.sizes).toEqual({ accepted: MAX, refused: 0, inFlight: 0, refusedSessions: 0 });
    expect(haSessions.sizes).toEqual({ sessions: MAX, ended: 0 });
    expect(accessTokens.size).toBe(MAX);
    gc();
    const growth = heapMb() - before;
    console.log(`heap growth after 100,000 tokens: ${growth.toFixed(1)} MB`);
    expect(growth).toBeLessThan(64);
  }, 120_000);

  // The pre-check memory is the one cache that anyone fills without Home Assistant's say:
  // well-formed tokens of the longest accepted length with far exps, made up by the caller.
  test("made-up access tokens of the longest accepted length keep the pre-check memory well under 10 MB", () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error("run with --expose-gc (vitest.config.ts passes it) so the heap can be measured");
    gc();
    const before = heapMb();
    const accessTokens = createAccessTokenPrecheck(MAX);
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 2 * MAX; i++) {
      const iss = i.toString(16).padStart(32, "0");
      const token = hs256({ alg: "HS256", typ: "JWT" }, { iss, iat: now, exp: 4_000_000_000, pad: "x".repeat(1350) }, "k");
      expect(token.length).toBeLessThanOrEqual(MAX_HA_TOKEN_LENGTH);
      expect(accessTokens.check(token, now).ok).toBe(true);
    }
    gc();
    const growth = heapMb() - before;
    console.log(`heap growth after ${2 * MAX} long made-up tokens through the pre-check: ${growth.toFixed(1)} MB (${accessTokens.size} remembered)`);
    expect(growth).toBeLessThan(10);
    expect(accessTokens.size).toBeLessThanOrEqual(MAX);
  });
});
