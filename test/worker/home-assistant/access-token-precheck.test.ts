import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { precheckAccessToken } from "../../../worker/home-assistant/access-token-precheck.js";
import { decodeUnverified, verifyHs256 } from "../../ha-double/jwt.js";
import { b64json, b64url, fakeHaToken } from "../../support/tokens.js";

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
