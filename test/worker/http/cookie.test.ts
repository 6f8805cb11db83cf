import { describe, expect, test } from "vitest";
import { loadSettings, type Settings } from "../../../worker/config.js";
import { clearedCookie, MAX_SESSION_COOKIES, readCookies, readSessionCookies, sessionCookie } from "../../../worker/http/cookie.js";

function settings(env: Record<string, string> = {}): Settings {
  const r = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ...env });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.settings;
}

describe("Set-Cookie", () => {
  test("defaults: host-only, Path=/, HttpOnly, Secure, SameSite=Lax, Max-Age = lifetime", () => {
    expect(sessionCookie(settings(), "J", 1800)).toBe("jwt_access_token=J; Path=/; Max-Age=1800; Secure; HttpOnly; SameSite=Lax");
  });
  test("configured domain, SameSite and flags", () => {
    const s = settings({ COOKIE_DOMAIN: ".example.com", COOKIE_SAMESITE: "Strict", COOKIE_HTTP_ONLY: "false", COOKIE_SECURE: "false", COOKIE_NAME: "sso" });
    expect(sessionCookie(s, "J", 60)).toBe("sso=J; Path=/; Max-Age=60; Domain=.example.com; SameSite=Strict");
  });
  test("clearing uses the same name, domain and path", () => {
    expect(clearedCookie(settings({ COOKIE_DOMAIN: ".example.com" }))).toBe(
      "jwt_access_token=; Path=/; Max-Age=0; Domain=.example.com; Secure; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    );
  });
});

describe("reading the cookie", () => {
  test("finds ours among others, exact name only", () => {
    expect(readCookies("a=1; jwt_access_token=T; xjwt_access_token=U; jwt_access_token_x=V", "jwt_access_token")).toEqual(["T"]);
    expect(readSessionCookies("a=1;jwt_access_token=T", "jwt_access_token")).toEqual(["T"]);
    expect(readSessionCookies('jwt_access_token="T"', "jwt_access_token")).toEqual(["T"]);
  });
  test("none, empty, duplicates with the same value, and a planted second value (all candidates, in the order sent)", () => {
    expect(readSessionCookies(undefined, "c")).toEqual([]);
    expect(readSessionCookies("c=", "c")).toEqual([]);
    expect(readSessionCookies("c=A; c=A", "c")).toEqual(["A"]);
    expect(readSessionCookies("c=B; c=; c=A; c=B", "c")).toEqual(["B", "A"]);
  });
  test(`at most ${MAX_SESSION_COOKIES} distinct values are considered`, () => {
    const header = Array.from({ length: 20 }, (_, i) => `c=v${i}`).join("; ");
    expect(readSessionCookies(header, "c")).toEqual(Array.from({ length: MAX_SESSION_COOKIES }, (_, i) => `v${i}`));
  });
  test("an absurdly large Cookie header is ignored", () => {
    expect(readSessionCookies(`c=${"A".repeat(20_000)}`, "c")).toEqual([]);
  });
});
