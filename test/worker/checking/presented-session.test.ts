/** The rule for several values under our cookie name (worker/checking/presented-session.ts). */
import { beforeAll, describe, expect, test } from "vitest";
import { checkPresentedSession, presentedSessions, type SessionCheckers } from "../../../worker/checking/presented-session.js";
import { MAX_SESSION_COOKIES } from "../../../worker/http/cookie.js";
import { generateKeyPair, importKeyRing, type KeyRing } from "../../../worker/tokens/keys.js";
import { memoryRevocationList, type RevocationList } from "../../../worker/tokens/revocation-list.js";
import { sessionClaims, signJwt } from "../../../worker/tokens/sign.js";
import { createVerifier } from "../../../worker/tokens/verify.js";
import { es256, otherEcKeyPem } from "../../support/tokens.js";

const options = { issuer: "homeassistant", audience: ["homeassistant"], cacheMaxEntries: 100 };
const alice = { id: "a".repeat(32), name: "Alice", is_admin: false, is_owner: false };
const mallory = { id: "m".repeat(32), name: "Mallory", is_admin: false, is_owner: false };
const now = Date.now();

let keys: KeyRing;
let revocations: RevocationList;
let checkers: SessionCheckers;
const token = (user: typeof alice, ageSeconds = 0, ttl = 1800) => signJwt(keys, sessionClaims(user, { ...options, ttl, now: now - ageSeconds * 1000 }));
const header = (...values: string[]) => values.map((v) => `jwt_access_token=${v}`).join("; ");
const check = (cookieHeader: string, authorization?: string) =>
  checkPresentedSession(checkers, { cookieHeader, cookieName: "jwt_access_token", authorization }, now);

beforeAll(async () => {
  keys = await importKeyRing((await generateKeyPair()).privatePem, []);
  revocations = memoryRevocationList(100);
  checkers = { verifier: createVerifier(keys, options), revocations };
});

describe("several values under our cookie name", () => {
  test("a valid cookie wins over planted garbage, forgeries, expired and signed-out values, in any order", async () => {
    const good = await token(alice);
    const forged = es256({ alg: "ES256", typ: "JWT", kid: keys.accepted[0]!.kid }, { sub: mallory.id }, otherEcKeyPem());
    const expired = await token(mallory, 7200, 60);
    const revoked = await token(mallory);
    const [, payload] = revoked.split(".");
    await revocations.revoke(JSON.parse(Buffer.from(payload!, "base64url").toString()).jti, now / 1000 + 1800, now);
    for (const planted of ["garbage", forged, expired, revoked]) {
      for (const cookie of [header(planted, good), header(good, planted)]) {
        const result = await check(cookie);
        expect(result.ok && result.claims.sub, planted.slice(0, 20)).toBe(alice.id);
        expect(result.ok && result.token).toBe(good);
      }
    }
  });

  test("valid sessions of two different users are refused, whatever garbage is around them", async () => {
    expect(await check(header(await token(alice), await token(mallory)))).toEqual({ ok: false, reason: "ambiguous_cookie" });
    expect(await check(header("x", await token(mallory), "y", await token(alice)))).toEqual({ ok: false, reason: "ambiguous_cookie" });
  });

  test("two valid sessions of the same user: the newest (highest iat) counts", async () => {
    const older = await token(alice, 600);
    const newer = await token(alice, 0);
    for (const cookie of [header(older, newer), header(newer, older)]) {
      const result = await check(cookie);
      expect(result.ok && result.token).toBe(newer);
    }
  });

  test("nothing valid: the first value's reason", async () => {
    expect(await check(header("garbage", await token(alice, 7200, 60)))).toEqual({ ok: false, reason: "malformed" });
    expect(await check(header(await token(alice, 7200, 60), "garbage"))).toEqual({ ok: false, reason: "expired" });
    expect(await check("other=1")).toEqual({ ok: false, reason: "no_session" });
  });

  test(`only the first ${MAX_SESSION_COOKIES} distinct values are looked at`, async () => {
    const good = await token(alice);
    const planted = Array.from({ length: MAX_SESSION_COOKIES - 1 }, (_, i) => `garbage${i}`);
    expect((await check(header(...planted, good))).ok).toBe(true);
    expect(await check(header(...planted, "one-more", good))).toEqual({ ok: false, reason: "malformed" });
    const seen = await presentedSessions(checkers, { cookieHeader: header(...planted, "a", "b", good), cookieName: "jwt_access_token" }, now);
    expect(seen.cookieValues).toBe(MAX_SESSION_COOKIES);
  });

  test("Bearer only when no value under our name was sent", async () => {
    const bearer = `Bearer ${await token(alice)}`;
    expect((await check("other=1", bearer)).ok).toBe(true);
    expect(await check(header("garbage"), bearer)).toEqual({ ok: false, reason: "malformed" });
  });
});
