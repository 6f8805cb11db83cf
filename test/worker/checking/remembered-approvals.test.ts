/**
 * Remembered approvals (worker/checking/remembered-approvals.ts): THE check's allowed answer
 * reused for an identical request, and only while nothing it depended on has changed. A hit
 * is synchronous (no promise), which is how these tests tell a remembered answer from a
 * computed one; everything else is what the check itself would answer at that moment.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { allowedResponse } from "../../../worker/checking/check-response.js";
import { createRememberedApprovals, MAX_APPROVAL_KEY_CHARS, MAX_REMEMBERED_APPROVALS, type RememberedApprovals } from "../../../worker/checking/remembered-approvals.js";
import { checkSession, type CheckOutcome, type CheckPolicy, type CheckSources, type ProtectedRequest } from "../../../worker/checking/session-check.js";
import { generateKeyPair, importKeyRing, type KeyRing } from "../../../worker/tokens/keys.js";
import { memoryRevocationList, type RevocationList } from "../../../worker/tokens/revocation-list.js";
import { sessionClaims, signJwt } from "../../../worker/tokens/sign.js";
import { createVerifier, VERIFY_LEEWAY_SECONDS } from "../../../worker/tokens/verify.js";
import { createKeySet } from "../../../worker/verifier/key-set.js";

const CLAIMS = { issuer: "homeassistant", audience: ["homeassistant"] };
const alice = { id: "a".repeat(32), name: "Alice", is_admin: false, is_owner: false };
const bob = { id: "b".repeat(32), name: "Bob", is_admin: true, is_owner: false };
const now = Date.now();

const basePolicy: CheckPolicy = {
  cookie: { name: "jwt_access_token", domain: undefined },
  haUrl: "https://ha.example.test",
  publicUrl: "https://auth.example.test",
  redirectAllowlist: [],
  accessRules: { "admin.example.test": { roles: ["admin"] } },
};

let keys: KeyRing;
const token = (user: typeof alice, options: { ttl?: number; at?: number } = {}) =>
  signJwt(keys, sessionClaims(user, { ...CLAIMS, ttl: options.ttl ?? 1800, now: options.at ?? now }));
const cookie = (...values: string[]) => values.map((v) => `jwt_access_token=${v}`).join("; ");
const request = (cookieHeader: string | undefined, host: string | undefined = "app.example.test", authorization?: string): ProtectedRequest => ({
  cookieHeader,
  authorization,
  host,
  url: () => `https://${host}/`,
  method: "GET",
  accept: "application/json",
});

function sources(revocations: RevocationList = memoryRevocationList(100), approvals: RememberedApprovals = createRememberedApprovals(100)) {
  return { verifier: createVerifier(keys, { ...CLAIMS, cacheMaxEntries: 100 }), revocations, approvals } satisfies CheckSources;
}

/** The check's answer, and whether it was remembered (a synchronous answer). */
async function check(s: CheckSources, r: ProtectedRequest, at = now, policy = basePolicy): Promise<{ outcome: CheckOutcome; remembered: boolean }> {
  const answer = checkSession(s, policy, r, at);
  return { outcome: await answer, remembered: !(answer instanceof Promise) };
}

const jtiOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).jti as string;
const expOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).exp as number;

beforeAll(async () => {
  keys = await importKeyRing((await generateKeyPair()).privatePem, []);
});

describe("remembered approvals", () => {
  test("a repeated allowed request is answered from memory, with the very same outcome and identity headers", async () => {
    const s = sources();
    const r = request(cookie(await token(alice)));
    const first = await check(s, r);
    expect(first).toMatchObject({ remembered: false, outcome: { kind: "allowed", source: "cookie" } });
    expect(s.approvals.size).toBe(1);
    const second = await check(s, r);
    expect(second.remembered).toBe(true);
    expect(second.outcome).toBe(first.outcome);
    expect(second.outcome.kind === "allowed" && second.outcome.headers).toEqual({ "Remote-User": alice.id, "Remote-Name": "Alice", "Remote-Groups": "user" });
    // Without memory the check computes the same answer.
    const plain = await check({ ...s, approvals: undefined }, r);
    expect(plain).toEqual({ remembered: false, outcome: first.outcome });
    // /verify's 200: the same headers whether computed or remembered.
    const headersOf = (outcome: CheckOutcome) => (outcome.kind === "allowed" ? [...allowedResponse(outcome).headers] : []);
    expect(headersOf(second.outcome)).toEqual(headersOf(first.outcome));
    expect(headersOf(first.outcome)).toEqual([
      ["cache-control", "no-store"],
      ["content-length", "0"],
      ["remote-groups", "user"],
      ["remote-name", "Alice"],
      ["remote-user", alice.id],
    ]);
  });

  test("a sign-out refuses the remembered cookie on the very next request", async () => {
    const revocations = memoryRevocationList(100);
    const s = sources(revocations);
    const jwt = await token(alice);
    const r = request(cookie(jwt));
    await check(s, r);
    expect((await check(s, r)).remembered).toBe(true);
    await revocations.revoke(jtiOf(jwt), expOf(jwt), now);
    expect(await check(s, r)).toMatchObject({ remembered: false, outcome: { kind: "unauthenticated", reason: "revoked" } });
    expect(await check(s, r)).toMatchObject({ remembered: false, outcome: { kind: "unauthenticated", reason: "revoked" } });
  });

  test("a sign-out while the check is running: that answer is not remembered", async () => {
    let version = 0;
    let release: (() => void) | undefined;
    const revocations = {
      // The first look-up waits until the test lets it go; a sign-out lands meanwhile.
      isRevoked: (): Promise<boolean> => (version === 0 ? new Promise((resolve) => (release = () => resolve(false))) : Promise.resolve(false)),
      version: () => version,
    };
    const s = { verifier: createVerifier(keys, { ...CLAIMS, cacheMaxEntries: 100 }), revocations, approvals: createRememberedApprovals(100) };
    const r = request(cookie(await token(alice)));
    const running = checkSession(s, basePolicy, r, now);
    while (!release) await new Promise((resolve) => setTimeout(resolve, 1));
    version++;
    release();
    expect(await running).toMatchObject({ kind: "allowed" }); // decided from the deny-list as it was
    expect(s.approvals.size).toBe(0);
    expect((await check(s, r)).remembered).toBe(false);
    expect((await check(s, r)).remembered).toBe(true);
  });

  test("never past exp + leeway, never before nbf - leeway: the token's times are checked at every use", async () => {
    const s = sources();
    const jwt = await token(alice, { ttl: 60 });
    const exp = expOf(jwt);
    const r = request(cookie(jwt));
    await check(s, r);
    expect((await check(s, r, (exp + VERIFY_LEEWAY_SECONDS) * 1000)).remembered).toBe(true);
    expect((await check(s, r, (exp + VERIFY_LEEWAY_SECONDS) * 1000 + 999)).outcome.kind).toBe("allowed");
    expect((await check(s, r, (exp + VERIFY_LEEWAY_SECONDS + 1) * 1000)).outcome).toMatchObject({ kind: "unauthenticated", reason: "expired" });
    // A clock that jumps back before the token's nbf (less the leeway): refused, as the check would.
    await check(s, r);
    const early = now - (VERIFY_LEEWAY_SECONDS + 5) * 1000;
    expect((await check(s, r, early)).outcome).toMatchObject({ kind: "unauthenticated", reason: "not_yet_valid" });
  });

  test("another host, Cookie or Authorization is another entry: ACCESS_RULES of another host are never reused", async () => {
    const s = sources();
    const jwt = await token(alice);
    expect((await check(s, request(cookie(jwt), "app.example.test"))).outcome.kind).toBe("allowed");
    expect(await check(s, request(cookie(jwt), "admin.example.test"))).toMatchObject({ remembered: false, outcome: { kind: "forbidden" } });
    expect(await check(s, request(cookie(jwt), "admin.example.test"))).toMatchObject({ remembered: false, outcome: { kind: "forbidden" } });
    // No host at all is not the empty host, and with ACCESS_RULES set it is refused.
    expect((await check(s, { ...request(cookie(jwt)), host: undefined })).outcome.kind).toBe("forbidden");
    expect((await check(s, { ...request(cookie(jwt)), host: undefined })).remembered).toBe(false);
    // Another cookie beside ours, or the same token as a Bearer: different requests, checked again.
    expect((await check(s, request(`${cookie(jwt)}; theme=dark`))).remembered).toBe(false);
    expect((await check(s, request(undefined, "app.example.test", `Bearer ${jwt}`))).remembered).toBe(false);
    expect((await check(s, request(undefined, "app.example.test", `Bearer ${jwt}`))).remembered).toBe(true);
    const bobs = await token(bob);
    const asBob = await check(s, request(undefined, "app.example.test", `Bearer ${bobs}`));
    expect(asBob).toMatchObject({ remembered: false, outcome: { kind: "allowed", claims: { sub: bob.id }, source: "bearer" } });
    expect((await check(s, request(cookie(jwt), "app.example.test"))).outcome).toMatchObject({ claims: { sub: alice.id } });
    expect(s.approvals.size).toBe(4);
  });

  test("a new policy (ACCESS_RULES changed at the signer) forgets everything", async () => {
    const s = sources();
    const r = request(cookie(await token(alice)), "app.example.test");
    await check(s, r);
    expect((await check(s, r)).remembered).toBe(true);
    const stricter: CheckPolicy = { ...basePolicy, accessRules: { "app.example.test": { roles: ["admin"] } } };
    expect(await check(s, r, now, stricter)).toMatchObject({ remembered: false, outcome: { kind: "forbidden" } });
    expect(s.approvals.size).toBe(0);
  });

  test("new keys at the verifier (a refetch that drops a key) forget everything", async () => {
    const [a, b] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    let jwks: unknown = { keys: [a.publicJwk, b.publicJwk] };
    const set = createKeySet({ fetchJwks: async () => ({ ok: true, body: jwks, maxAgeMs: undefined }), unknownKidRefetchMs: 60_000, cacheMaxEntries: 100 });
    set.setClaims(CLAIMS);
    await set.refresh(now);
    const ringA = await importKeyRing(a.privatePem, []);
    const jwt = await signJwt(ringA, sessionClaims(alice, { ...CLAIMS, ttl: 600, now }));
    const s = { verifier: set.verifier, revocations: memoryRevocationList(100), approvals: createRememberedApprovals(100) };
    const r = request(cookie(jwt));
    await check(s, r);
    expect((await check(s, r)).remembered).toBe(true);
    jwks = { keys: [b.publicJwk] };
    await set.refresh(now);
    expect(await check(s, r)).toMatchObject({ remembered: false, outcome: { kind: "unauthenticated", reason: "unknown_key" } });
  });

  test("refusals are never remembered", async () => {
    const s = sources();
    const expired = await token(alice, { ttl: 60, at: now - 3_600_000 });
    for (const r of [request(undefined), request(cookie("garbage")), request(cookie(expired)), request(cookie(await token(alice)), "admin.example.test")]) {
      expect((await check(s, r)).outcome.kind).not.toBe("allowed");
      expect((await check(s, r)).remembered).toBe(false);
    }
    expect(s.approvals.size).toBe(0);
  });

  test("several values under our cookie name: answered, not remembered (the others' fate can change the answer)", async () => {
    const s = sources();
    const later = await token(bob, { at: now + 60_000 }); // not yet valid now; valid in a minute
    const r = request(cookie(await token(alice), later));
    expect((await check(s, r)).outcome).toMatchObject({ kind: "allowed", claims: { sub: alice.id } });
    expect((await check(s, r)).remembered).toBe(false);
    expect((await check(s, r, now + 60_000)).outcome).toMatchObject({ kind: "unauthenticated", reason: "ambiguous_cookie" });
    expect(s.approvals.size).toBe(0);
  });

  test("requests taking turns, and two requests filed under one slot, each get their own answer", async () => {
    const s = sources();
    const [aliceJwt, bobJwt] = [await token(alice), await token(bob)];
    const [asAlice, asBob] = [request(cookie(aliceJwt)), request(cookie(bobJwt))];
    await check(s, asAlice);
    await check(s, asBob);
    for (let i = 0; i < 3; i++) {
      expect(await check(s, asAlice)).toMatchObject({ remembered: true, outcome: { claims: { sub: alice.id } } });
      expect(await check(s, asAlice)).toMatchObject({ remembered: true, outcome: { claims: { sub: alice.id } } });
      expect(await check(s, asBob)).toMatchObject({ remembered: true, outcome: { claims: { sub: bob.id } } });
    }
    // Same length, middle and end: one slot. The later request's entry replaces the other's,
    // even right after the other was the one recalled last.
    const [first, second] = [request(`a=1; ${cookie(aliceJwt)}`), request(`a=2; ${cookie(aliceJwt)}`)];
    await check(s, first);
    expect((await check(s, first)).remembered).toBe(true);
    expect((await check(s, second)).remembered).toBe(false);
    expect((await check(s, first)).remembered).toBe(false);
    expect((await check(s, second)).remembered).toBe(false);
    expect((await check(s, second)).remembered).toBe(true);
    expect(await check(s, asBob)).toMatchObject({ remembered: true, outcome: { claims: { sub: bob.id } } });
  });

  test("bounded: at most its size, and over-long requests are checked but not kept", async () => {
    const s = sources(memoryRevocationList(100), createRememberedApprovals(10));
    const jwt = await token(alice);
    for (let i = 0; i < 25; i++) expect((await check(s, request(cookie(jwt), `h${i}.example.test`))).outcome.kind).toBe("allowed");
    expect(s.approvals.size).toBe(10);
    expect((await check(s, request(cookie(jwt), "h24.example.test"))).remembered).toBe(true);
    expect((await check(s, request(cookie(jwt), "h0.example.test"))).remembered).toBe(false);
    const long = `${cookie(jwt)}; filler=${"x".repeat(MAX_APPROVAL_KEY_CHARS)}`;
    expect((await check(s, request(long))).outcome.kind).toBe("allowed");
    expect((await check(s, request(long))).remembered).toBe(false);
    // Whatever CACHE_MAX_ENTRIES says, never more than MAX_REMEMBERED_APPROVALS.
    const big = sources(memoryRevocationList(100), createRememberedApprovals(1_000_000));
    for (let i = 0; i < MAX_REMEMBERED_APPROVALS + 50; i++) await check(big, request(cookie(jwt), `h${i}.example.test`));
    expect(big.approvals.size).toBe(MAX_REMEMBERED_APPROVALS);
  });

  test("a deny-list without a version (KV: other isolates' sign-outs) is asked at every use", async () => {
    const revoked = new Set<string>();
    let asked = 0;
    const revocations = {
      isRevoked: async (jti: string) => {
        asked++;
        return revoked.has(jti);
      },
      version: () => undefined,
    };
    const s = { verifier: createVerifier(keys, { ...CLAIMS, cacheMaxEntries: 100 }), revocations, approvals: createRememberedApprovals(100) };
    const jwt = await token(alice);
    const r = request(cookie(jwt));
    expect((await check(s, r)).outcome.kind).toBe("allowed");
    expect(s.approvals.size).toBe(1);
    const before = asked;
    expect((await check(s, r)).outcome.kind).toBe("allowed");
    expect(asked).toBe(before + 1);
    revoked.add(jtiOf(jwt)); // signed out in another isolate
    expect((await check(s, r)).outcome).toMatchObject({ kind: "unauthenticated", reason: "revoked" });
    expect(s.approvals.size).toBe(0);
  });

  test("forget() forgets the request recalled last as well (no copy of it outlives its entry)", async () => {
    const s = sources();
    const r = request(cookie(await token(alice)));
    await check(s, r);
    s.approvals.sync(s, basePolicy);
    expect(s.approvals.recall(r, now)?.outcome.claims.sub).toBe(alice.id);
    s.approvals.forget(r);
    expect(s.approvals.size).toBe(0);
    expect(s.approvals.recall(r, now)).toBeUndefined();
  });
});
