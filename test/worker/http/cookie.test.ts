import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { loadSettings, type Settings } from "../../../worker/config.js";
import { clearedCookie, MAX_SESSION_COOKIES, readCookies, readSessionCookies, sessionCookie } from "../../../worker/http/cookie.js";
import { normalizedSetCookie } from "../../support/set-cookie.js";

function settings(env: Record<string, string> = {}): Settings {
  const r = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ...env });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.settings;
}

// Hono's serializer writes the attributes in its own order; what they say is compared.
const same = (actual: string, expected: string) => expect(normalizedSetCookie(actual)).toBe(normalizedSetCookie(expected));

describe("Set-Cookie", () => {
  test("defaults: host-only, Path=/, HttpOnly, Secure, SameSite=Lax, Max-Age = lifetime", () => {
    same(sessionCookie(settings(), "J", 1800), "jwt_access_token=J; Path=/; Max-Age=1800; Secure; HttpOnly; SameSite=Lax");
  });
  test("configured domain, SameSite and flags", () => {
    const s = settings({ COOKIE_DOMAIN: ".example.com", COOKIE_SAMESITE: "Strict", COOKIE_HTTP_ONLY: "false", COOKIE_SECURE: "false", COOKIE_NAME: "sso" });
    same(sessionCookie(s, "J", 60), "sso=J; Path=/; Max-Age=60; Domain=.example.com; SameSite=Strict");
  });
  test("clearing uses the same name, domain and path", () => {
    same(
      clearedCookie(settings({ COOKIE_DOMAIN: ".example.com" })),
      "jwt_access_token=; Path=/; Max-Age=0; Domain=.example.com; Secure; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    );
  });
  test("a real JWT is written as it is, and every cookie name the settings accept serializes", () => {
    const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXdpdGgtXy1hbmQtLQ";
    expect(sessionCookie(settings(), jwt, 60).startsWith(`jwt_access_token=${jwt};`)).toBe(true);
    for (const name of ["__Host-sso", "__Secure-sso", "a!#$%&'*+.^_`|~-z"]) {
      expect(sessionCookie(settings({ COOKIE_NAME: name }), "J", 60).startsWith(`${name}=J;`)).toBe(true);
      expect(clearedCookie(settings({ COOKIE_NAME: name }))).toMatch(/Max-Age=0/);
    }
  });
});

describe("Set-Cookie line reuse", () => {
  test("the line built last is reused only for the same settings, JWT and Max-Age", () => {
    const s = settings();
    const other = settings({ COOKIE_NAME: "sso", COOKIE_DOMAIN: ".example.com" });
    const a = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLWE";
    const b = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnbmF0dXJlLWI";
    const calls: Array<[Settings, string, number]> = [
      [s, a, 1800],
      [s, a, 1800],
      [s, b, 1800],
      [s, a, 1799],
      [other, a, 1799],
      [s, a, 1799],
      [s, `${a}`.slice(0), 1799],
      [s, a, 1798],
    ];
    for (const [settingsUsed, jwt, maxAge] of calls) {
      const line = sessionCookie(settingsUsed, jwt, maxAge);
      expect(line.startsWith(`${settingsUsed.cookie.name}=${jwt};`)).toBe(true);
      expect(line).toContain(`Max-Age=${maxAge}`);
      expect(line.includes("Domain=.example.com")).toBe(settingsUsed === other);
    }
  });
});

describe("every cookie setting the configuration accepts can be written", () => {
  test("Hono's serializer never throws for accepted settings (its __Host-/__Secure- rules are case-insensitive)", () => {
    const prefix = fc.constantFrom("", "__Host-", "__host-", "__HOST-", "__Secure-", "__secure-", "__SeCuRe-");
    fc.assert(
      fc.property(
        prefix,
        fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
        fc.option(fc.constantFrom(".example.com", "example.com")),
        fc.constantFrom("true", "false"),
        fc.constantFrom("Lax", "Strict", "None"),
        (pre, rest, domain, secure, sameSite) => {
          const env: Record<string, string> = { COOKIE_NAME: `${pre}${rest}`, COOKIE_SECURE: secure, COOKIE_SAMESITE: sameSite };
          if (domain) env.COOKIE_DOMAIN = domain;
          const result = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ...env });
          if (!result.ok) return;
          expect(sessionCookie(result.settings, "J", 86_400)).toMatch(/Max-Age=86400/);
          expect(clearedCookie(result.settings)).toMatch(/Max-Age=0/);
        },
      ),
      { numRuns: 2000 },
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
