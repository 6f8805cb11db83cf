import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { loadSettings, type Settings } from "../../../worker/config.js";
import { strayCookieClearings } from "../../../worker/http/stray-cookies.js";

function settings(env: Record<string, string> = {}): Settings {
  const r = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ...env });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.settings;
}

describe("stray cookie clearings", () => {
  test("host-only on the signer's host and Domain= each parent except COOKIE_DOMAIN's", () => {
    const out = strayCookieClearings(settings({ COOKIE_DOMAIN: ".example.com" }), "auth.eu.example.com");
    expect(out.map((c) => /Domain=([^;]+)/.exec(c)?.[1] ?? "host-only")).toEqual(["host-only", "auth.eu.example.com", "eu.example.com"]);
    for (const c of out) expect(c).toMatch(/^jwt_access_token=; .*Max-Age=0/);
  });

  // Browsers (RFC 6265bis) and Hono's serializer read the __Host- prefix whatever its case, and
  // config.ts accepts "__HOST-sso" as a __Host- cookie: no Domain variant may be built for it, or
  // Hono throws and every /logout (and a sign-in past a stray cookie) answers 500.
  test.each(["__Host-sso", "__host-sso", "__HOST-sso"])("a %s cookie has no Domain variants, and none throws", (name) => {
    const s = settings({ COOKIE_NAME: name });
    expect(() => strayCookieClearings(s, "auth.example.com")).not.toThrow();
    expect(strayCookieClearings(s, "auth.example.com")).toEqual([]);
  });

  test("never throws for any cookie setting the configuration accepts, on any signer host", () => {
    const prefix = fc.constantFrom("", "__Host-", "__host-", "__HOST-", "__Secure-", "__secure-", "__SeCuRe-");
    fc.assert(
      fc.property(
        prefix,
        fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
        fc.option(fc.constantFrom(".example.com", "example.com")),
        fc.constantFrom("true", "false"),
        fc.constantFrom("auth.example.com", "a.b.example.com", "localhost", "127.0.0.1", "[::1]"),
        (pre, rest, domain, secure, host) => {
          const env: Record<string, string> = { COOKIE_NAME: `${pre}${rest}`, COOKIE_SECURE: secure };
          if (domain) env.COOKIE_DOMAIN = domain;
          const result = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ...env });
          if (!result.ok) return;
          for (const c of strayCookieClearings(result.settings, host)) expect(c).toMatch(/Max-Age=0/);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
