import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { createAccessTokenPrecheck, MAX_HA_TOKEN_LENGTH, MAX_REMEMBERED_TOKEN_LENGTH, precheckAccessToken } from "../../../worker/home-assistant/access-token-precheck.js";
import { decodeUnverified, verifyHs256 } from "../../ha-double/jwt.js";
import { b64json, b64url, fakeHaToken, hs256 } from "../../support/tokens.js";

const now = Math.floor(Date.now() / 1000);
const sig = b64url(Buffer.alloc(32, 1));

describe("precheckAccessToken", () => {
  test("a Home Assistant-shaped, unexpired token passes (its signature cannot be checked here)", () => {
    const result = precheckAccessToken(fakeHaToken({ exp: now + 100 }), now);
    expect(result).toEqual({ ok: true, issuer: "0123456789abcdef0123456789abcdef", expiresAt: now + 100 });
  });

  // Home Assistant refuses exp <= now - 10 on its own (fractional) clock, when the token gets
  // there: the leeway is for that trip and for clock differences, not for the pre-check to use up.
  test("a token is sent only before its exp; at or past it, it is refused locally", () => {
    expect(precheckAccessToken(fakeHaToken({ exp: now + 1 }), now).ok).toBe(true);
    expect(precheckAccessToken(fakeHaToken({ exp: now }), now)).toMatchObject({ ok: false, reason: "expired" });
    expect(precheckAccessToken(fakeHaToken({ exp: now - 10 }), now)).toMatchObject({ ok: false, reason: "expired" });
  });

  test("every token the pre-check passes is still valid for Home Assistant when it arrives up to 5 s later", () => {
    const key = "k".repeat(128);
    const iss = "0123456789abcdef0123456789abcdef";
    fc.assert(
      fc.property(fc.integer({ min: -25, max: 25 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 5000 }), (offset, ms, tripMs) => {
        const nowMs = now * 1000 + ms; // the signer's clock, to the millisecond
        const token = fakeHaToken({ exp: now + offset, iat: now - 1800, iss, key });
        if (!precheckAccessToken(token, Math.floor(nowMs / 1000)).ok) return;
        // The Home Assistant double's PyJWT rules (leeway 10, fractional now), at arrival.
        expect(verifyHs256(decodeUnverified(token)!, key, iss, 10, (nowMs + tripMs) / 1000)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test.each([
    ["empty", "", "malformed"],
    ["one part", "abc", "malformed"],
    ["two parts", "a.b", "malformed"],
    ["empty signature", `${b64json({ alg: "HS256" })}.${b64json({ iss: "0".repeat(32), iat: now, exp: now + 9 })}.`, "malformed"],
    ["not base64", "%%%.%%%.%%%", "malformed"],
    ["payload not JSON", `${b64json({ alg: "HS256" })}.${b64url("x")}.${sig}`, "malformed"],
    ["alg none", fakeHaToken({ alg: "none" }), "not_hs256"],
    ["ES256 (our own cookie sent by mistake)", fakeHaToken({ alg: "ES256" }), "not_hs256"],
    ["short signature", `${b64json({ alg: "HS256" })}.${b64json({ iss: "0".repeat(32), iat: now, exp: now + 9 })}.${b64url("abc")}`, "not_hs256"],
    ["iss not hex", fakeHaToken({ iss: "be4b440c8b354852a65ab9d42e9d77cZ" }), "bad_issuer"],
    ["iss too short", fakeHaToken({ iss: "abc" }), "bad_issuer"],
    ["iss upper-case hex", fakeHaToken({ iss: "0123456789ABCDEF0123456789ABCDEF" }), "bad_issuer"],
    ["no exp", `${b64json({ alg: "HS256" })}.${b64json({ iss: "0".repeat(32), iat: now })}.${sig}`, "malformed"],
    ["exp string", `${b64json({ alg: "HS256" })}.${b64json({ iss: "0".repeat(32), iat: now, exp: "9999999999" })}.${sig}`, "malformed"],
    ["iat in the future", fakeHaToken({ iat: now + 60 }), "not_yet_valid"],
    ["huge", "a".repeat(10_000), "malformed"],
    // jose's decoder (atob) would take these; Home Assistant never writes them.
    ["signature padded", `${fakeHaToken()}=`, "malformed"],
    ["header padded", fakeHaToken().replace(".", "=."), "malformed"],
    ["space inside", fakeHaToken().replace(/^(.{10})/, "$1 "), "malformed"],
    ["standard alphabet (+)", fakeHaToken().replace(/\.(.)/, ".+"), "malformed"],
    // 32 bytes = 43 characters with 2 unused bits; B and C set them: the same bytes, respelled.
    ["signature with non-zero trailing bits", fakeHaToken().replace(/.$/, (c) => (c === "B" ? "C" : "B")), "malformed"],
  ])("%s is refused locally (%s)", (_label, token, reason) => {
    const result = precheckAccessToken(token, now);
    expect(result).toMatchObject({ ok: false, reason });
    if (!result.ok) expect(result.detail.length).toBeGreaterThan(10);
  });
});

describe("createAccessTokenPrecheck (remembers what a token says, checks the clock every time)", () => {
  const issA = "0123456789abcdef0123456789abcdef";
  const issB = "fedcba9876543210fedcba9876543210";

  test("a remembered token is refused once the clock reaches its exp", () => {
    const { check: precheck } = createAccessTokenPrecheck(100);
    const token = fakeHaToken({ exp: now + 5 });
    expect(precheck(token, now)).toEqual({ ok: true, issuer: issA, expiresAt: now + 5 });
    expect(precheck(token, now + 4).ok).toBe(true);
    expect(precheck(token, now + 5)).toMatchObject({ ok: false, reason: "expired" });
  });

  test("a token not valid yet becomes valid with the clock, and its nbf is remembered too", () => {
    const { check: precheck } = createAccessTokenPrecheck(100);
    const early = fakeHaToken({ iat: now + 60, exp: now + 1800 });
    expect(precheck(early, now)).toMatchObject({ ok: false, reason: "not_yet_valid" });
    expect(precheck(early, now + 50).ok).toBe(true);
    const withNbf = hs256({ alg: "HS256", typ: "JWT" }, { iss: issA, iat: now, nbf: now + 60, exp: now + 1800 }, "k");
    expect(precheck(withNbf, now)).toMatchObject({ ok: false, reason: "not_yet_valid" });
    expect(precheck(withNbf, now)).toMatchObject({ ok: false, reason: "not_yet_valid" });
    expect(precheck(withNbf, now + 50).ok).toBe(true);
  });

  test("each token gets its own facts, never another token's", () => {
    const { check: precheck } = createAccessTokenPrecheck(100);
    const a = fakeHaToken({ iss: issA, exp: now + 100 });
    const b = fakeHaToken({ iss: issB, exp: now + 200 });
    const expired = fakeHaToken({ iss: issA, exp: now - 1 });
    for (let round = 0; round < 3; round++) {
      expect(precheck(a, now)).toEqual({ ok: true, issuer: issA, expiresAt: now + 100 });
      expect(precheck(b, now)).toEqual({ ok: true, issuer: issB, expiresAt: now + 200 });
      expect(precheck(expired, now)).toMatchObject({ ok: false, reason: "expired" });
      expect(precheck(`${a}.x`, now)).toMatchObject({ ok: false, reason: "malformed" });
    }
  });

  // Anyone can make well-formed tokens up to MAX_HA_TOKEN_LENGTH with far exps, without Home
  // Assistant ever seeing them: remembered, 10,000 of them would hold over 20 MB.
  test("a token longer than Home Assistant writes them is checked the same, but not remembered", () => {
    const accessTokens = createAccessTokenPrecheck(100);
    const long = hs256({ alg: "HS256", typ: "JWT" }, { iss: issA, iat: now, exp: now + 1800, pad: "x".repeat(1350) }, "k");
    expect(long.length).toBeGreaterThan(MAX_REMEMBERED_TOKEN_LENGTH);
    expect(long.length).toBeLessThanOrEqual(MAX_HA_TOKEN_LENGTH);
    for (const t of [now, now + 1, now + 1800]) expect(accessTokens.check(long, t)).toEqual(precheckAccessToken(long, t));
    expect(accessTokens.size).toBe(0);
    // A real one (183 characters) is remembered.
    const real = fakeHaToken({ iss: issA, exp: now + 1800 });
    expect(real.length).toBeLessThanOrEqual(MAX_REMEMBERED_TOKEN_LENGTH);
    expect(accessTokens.check(real, now).ok).toBe(true);
    expect(accessTokens.size).toBe(1);
  });

  test("answers exactly as precheckAccessToken, whatever the tokens and the clock", () => {
    const pool = [
      fakeHaToken({ iss: issA, exp: now + 3 }),
      fakeHaToken({ iss: issB, exp: now + 8, iat: now - 100 }),
      fakeHaToken({ iss: issA, exp: now + 8, iat: now + 15 }),
      hs256({ alg: "HS256" }, { iss: issB, iat: now, nbf: now + 14, exp: now + 20 }, "k"),
      fakeHaToken({ iss: issA, exp: now - 2 }),
      fakeHaToken({ alg: "none" }),
      fakeHaToken({ iss: "abc" }),
      "a.b",
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: pool.length - 1 }), fc.integer({ min: -5, max: 25 })), { maxLength: 40 }),
        (max, calls) => {
          const { check: precheck } = createAccessTokenPrecheck(max);
          for (const [i, offset] of calls) expect(precheck(pool[i]!, now + offset)).toEqual(precheckAccessToken(pool[i]!, now + offset));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
