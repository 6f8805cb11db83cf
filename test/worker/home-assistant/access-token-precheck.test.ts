import { describe, expect, test } from "vitest";
import { precheckAccessToken } from "../../../worker/home-assistant/access-token-precheck.js";
import { b64json, b64url, fakeHaToken } from "../../support/tokens.js";

const now = Math.floor(Date.now() / 1000);
const sig = b64url(Buffer.alloc(32, 1));

describe("precheckAccessToken", () => {
  test("a Home Assistant-shaped, unexpired token passes (its signature cannot be checked here)", () => {
    const result = precheckAccessToken(fakeHaToken({ exp: now + 100 }), now);
    expect(result).toEqual({ ok: true, issuer: "0123456789abcdef0123456789abcdef", expiresAt: now + 100 });
  });

  test("a token expired by less than Home Assistant's 10 s leeway passes; beyond it, not", () => {
    expect(precheckAccessToken(fakeHaToken({ exp: now - 10 }), now).ok).toBe(true);
    expect(precheckAccessToken(fakeHaToken({ exp: now - 11 }), now)).toMatchObject({ ok: false, reason: "expired" });
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
