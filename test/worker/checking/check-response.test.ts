/**
 * /verify's allowed answer (worker/checking/check-response.ts) and what it tells a caching
 * proxy: X-Accel-Expires only when the role allows reuse (the local verifier's
 * PROXY_APPROVAL_CACHE), only for an answer to exactly one credential, as the absolute last
 * second nginx may use it ("@<seconds>": the check's second + N - 1, since nginx keeps an
 * entry through the whole second it ends in) and never into the first second in which the
 * check would refuse the token for its exp. Outcomes come from the real check.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { allowedResponse, proxyReuseUntil } from "../../../worker/checking/check-response.js";
import { checkSession, type CheckOutcome, type CheckPolicy } from "../../../worker/checking/session-check.js";
import { generateKeyPair, importKeyRing, type KeyRing } from "../../../worker/tokens/keys.js";
import { memoryRevocationList } from "../../../worker/tokens/revocation-list.js";
import { sessionClaims, signJwt } from "../../../worker/tokens/sign.js";
import { createVerifier, VERIFY_LEEWAY_SECONDS } from "../../../worker/tokens/verify.js";

const CLAIMS = { issuer: "homeassistant", audience: ["homeassistant"] };
const alice = { id: "a".repeat(32), name: "Alice", is_admin: false, is_owner: false };
const policy: CheckPolicy = {
  cookie: { name: "jwt_access_token", domain: undefined },
  haUrl: "https://ha.example.test",
  publicUrl: "https://auth.example.test",
  redirectAllowlist: [],
  accessRules: {},
};

let keys: KeyRing;
beforeAll(async () => {
  keys = await importKeyRing((await generateKeyPair()).privatePem, []);
});

/** THE check's outcome for a request with these values under our cookie name, at `nowMs`. */
async function allowed(values: string[], nowMs: number): Promise<Extract<CheckOutcome, { kind: "allowed" }>> {
  const outcome = await checkSession(
    { verifier: createVerifier(keys, { ...CLAIMS, cacheMaxEntries: 100 }), revocations: memoryRevocationList(10) },
    policy,
    { cookieHeader: values.map((v) => `jwt_access_token=${v}`).join("; "), authorization: undefined, host: "app.example.test", url: () => undefined, method: "GET", accept: undefined },
    nowMs,
  );
  if (outcome.kind !== "allowed") throw new Error(`not allowed: ${JSON.stringify(outcome)}`);
  return outcome;
}

const token = (issuedAtMs: number, ttl = 1800) => signJwt(keys, sessionClaims(alice, { ...CLAIMS, ttl, now: issuedAtMs }));

describe("what an allowed answer tells a caching proxy", () => {
  test("through the check's second + N - 1 for one credential far from its exp; nothing without a cache time, or with one second", async () => {
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    const outcome = await allowed([await token(now)], now);
    expect(outcome.oneCredential).toBe(true);
    expect(proxyReuseUntil(outcome, 5, seconds)).toBe(seconds + 4);
    expect(proxyReuseUntil(outcome, 60, seconds)).toBe(seconds + 59);
    expect(proxyReuseUntil(outcome, 0, seconds)).toBeUndefined();
    expect(proxyReuseUntil(outcome, 1, seconds)).toBeUndefined();

    // Absolute: nginx would count a relative value from when the answer reaches it.
    expect(allowedResponse(outcome, 5, seconds).headers.get("x-accel-expires")).toBe(`@${seconds + 4}`);
    expect(allowedResponse(outcome, 5, seconds + 1).headers.get("x-accel-expires")).toBe(`@${seconds + 5}`);
    expect(allowedResponse(outcome, 0, seconds).headers.get("x-accel-expires")).toBeNull();
    expect(allowedResponse(outcome).headers.get("x-accel-expires")).toBeNull(); // the signer's /verify
    // Everything else of the answer is the same with and without it.
    const without = [...allowedResponse(outcome).headers];
    const withReuse = [...allowedResponse(outcome, 5, seconds).headers].filter(([name]) => name !== "x-accel-expires");
    expect(withReuse).toEqual(without);
    expect(without.map(([name]) => name)).toEqual(expect.arrayContaining(["cache-control", "content-length", "remote-user", "remote-name", "remote-groups"]));
  });

  test("ends a second before the last second the check accepts the token (exp + leeway), as the native check does", async () => {
    const issued = Date.now() - 1800_000 + 2_000; // 30 min ago, a 30 min token: exp in 2 s
    const outcome = await allowed([await token(issued)], Date.now());
    const { exp } = outcome.claims;
    const refusedFrom = exp + VERIFY_LEEWAY_SECONDS + 1;
    const rows: Array<[number, number | undefined]> = [
      [refusedFrom - 10, refusedFrom - 6], // far enough: the cache time decides (now + 4)
      [refusedFrom - 6, refusedFrom - 2],
      [refusedFrom - 5, refusedFrom - 2], // kept through the second before the last accepted one
      [refusedFrom - 3, refusedFrom - 2],
      [refusedFrom - 2, undefined], // nothing left to keep
      [refusedFrom - 1, undefined], // the last second it is accepted
      [refusedFrom, undefined],
    ];
    for (const [now, expected] of rows) {
      expect(proxyReuseUntil(outcome, 5, now), `now = refusedFrom - ${refusedFrom - now}`).toBe(expected);
      const told = allowedResponse(outcome, 5, now).headers.get("x-accel-expires");
      expect(told, `now = refusedFrom - ${refusedFrom - now}`).toBe(expected !== undefined ? `@${expected}` : null);
    }
    // Back to the usual value after a clamped one: nothing stale is kept for the session.
    expect(allowedResponse(outcome, 5, refusedFrom - 10).headers.get("x-accel-expires")).toBe(`@${refusedFrom - 6}`);
  });

  test("nothing for an answer to several values under the cookie's name", async () => {
    const now = Date.now();
    const outcome = await allowed([await token(now - 60_000), await token(now)], now);
    expect(outcome.oneCredential).toBe(false);
    expect(proxyReuseUntil(outcome, 5, Math.floor(now / 1000))).toBeUndefined();
    expect(allowedResponse(outcome, 5, Math.floor(now / 1000)).headers.get("x-accel-expires")).toBeNull();
  });
});
