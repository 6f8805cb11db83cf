/**
 * Property-based tests (fast-check): thousands of generated inputs for each parser and
 * check that guards the signer. No exception escapes, no 5xx, and no cookie is issued for
 * anything but a valid session.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { createApp } from "../../worker/app.js";
import { loadSettings, type Settings } from "../../worker/config.js";
import { decideAccess } from "../../worker/http/access-rules.js";
import { MAX_SESSION_COOKIES, readCookies, readSessionCookies } from "../../worker/http/cookie.js";
import { allowedRedirect, isHostUnder } from "../../worker/http/redirect-allowlist.js";
import { precheckAccessToken } from "../../worker/home-assistant/access-token-precheck.js";
import { HomeAssistantError } from "../../worker/home-assistant/errors.js";
import { generateKeyPair } from "../../worker/tokens/keys.js";
import { b64json, b64url } from "../support/tokens.js";

const RUNS = 2000;
const now = Math.floor(Date.now() / 1000);

function settingsOf(env: Record<string, string>): Settings {
  const r = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ...env });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.settings;
}
const settings = settingsOf({ COOKIE_DOMAIN: ".example.com", REDIRECT_ALLOWLIST: "nas.example.net,*.lan.example.org" });

/** Token-ish strings: mostly JWT-shaped, with hostile parts. */
const jwtish = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.tuple(fc.json(), fc.json(), fc.uint8Array({ maxLength: 40 })).map(([h, p, s]) => `${b64url(h)}.${b64url(p)}.${b64url(s)}`),
  fc
    .record({
      alg: fc.constantFrom("HS256", "none", "ES256", "HS512", "hs256"),
      iss: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.string({ maxLength: 40 })),
      exp: fc.oneof(fc.integer({ min: now - 100_000, max: now + 100_000 }), fc.constant(Number.NaN), fc.string()),
      iat: fc.oneof(fc.integer({ min: now - 100_000, max: now + 100_000 }), fc.string()),
      sig: fc.uint8Array({ minLength: 0, maxLength: 40 }),
    })
    .map(({ alg, iss, exp, iat, sig }) => `${b64json({ alg })}.${b64json({ iss, exp, iat })}.${b64url(sig)}`),
);

describe("pre-check of Home Assistant tokens", () => {
  test("never throws, and passes only tokens of Home Assistant's exact shape", () => {
    fc.assert(
      fc.property(jwtish, fc.integer({ min: 0, max: 4_000_000_000 }), (token, at) => {
        const result = precheckAccessToken(token, at);
        if (!result.ok) return;
        const [h, p, s] = token.split(".") as [string, string, string];
        expect(JSON.parse(Buffer.from(h, "base64url").toString()).alg).toBe("HS256");
        const payload = JSON.parse(Buffer.from(p, "base64url").toString());
        expect(payload.iss).toMatch(/^[0-9a-f]{32}$/);
        expect(at).toBeLessThanOrEqual(payload.exp + 10);
        expect(Buffer.from(s, "base64url").length).toBe(32);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("cookie parsing", () => {
  test("never throws; returns only values that appear under exactly our name", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), (header, name) => {
        const values = readCookies(header, name);
        for (const v of values) expect(header).toContain(v);
        const candidates = readSessionCookies(header, name);
        for (const token of candidates) expect(values).toContain(token);
        expect(candidates.length).toBeLessThanOrEqual(MAX_SESSION_COOKIES);
        expect(new Set(candidates).size).toBe(candidates.length);
      }),
      { numRuns: RUNS },
    );
  });
  test("two different values under our name are both candidates, in the order sent", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\w.-]{1,40}$/), fc.stringMatching(/^[\w.-]{1,40}$/), fc.string({ maxLength: 50 }), (a, b, junk) => {
        fc.pre(a !== b && !junk.includes(";"));
        expect(readSessionCookies(`c=${a}; x=${junk.replace(/[;=]/g, "")}; c=${b}`, "c")).toEqual([a, b]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("redirect validation", () => {
  const hostile = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc
      .tuple(
        fc.constantFrom("https://", "http://", "//", "https:/", "https:\\\\", "javascript:", " https://", "HTTPS://", "https://%2F"),
        fc.constantFrom("", "evil.example", "user@", "ha.example.com", "a.example.com.evil.example", "xn--exmple-cua.com", "evil.example\\"),
        fc.constantFrom("", "@", "@ha.example.com", "\\@grafana.example.com", ".example.com", "%40grafana.example.com", ":443", "#@x.example.com"),
        fc.string({ maxLength: 30 }),
      )
      .map((parts) => parts.join("")),
  );
  test("an allowed target is always an http(s) URL whose host is under the cookie domain or listed", () => {
    let allowedCount = 0;
    fc.assert(
      fc.property(hostile, (target) => {
        const allowed = allowedRedirect(target, settings);
        if (allowed === undefined) return;
        allowedCount++;
        const url = new URL(allowed);
        expect(["http:", "https:"]).toContain(url.protocol);
        expect(url.username + url.password).toBe("");
        const host = url.hostname;
        expect(
          isHostUnder(host, "example.com") || host === "nas.example.net" || host.endsWith(".lan.example.org"),
        ).toBe(true);
        // And the browser would go to the same place: the raw string has no tricks left.
        expect(target).not.toMatch(/[\\\s]/);
      }),
      { numRuns: RUNS * 2 },
    );
    expect(allowedCount).toBeGreaterThan(0); // the generator does reach the allowed side
  });
});

describe("access rules", () => {
  test("a user lacking the role or the id is never allowed; a rule-free host always is", () => {
    const roles = fc.subarray(["user", "admin", "owner", "guest"]);
    fc.assert(
      fc.property(roles, roles, fc.stringMatching(/^[a-f0-9]{8}$/), fc.boolean(), (userRoles, ruleRoles, sub, byUser) => {
        fc.pre(ruleRoles.length > 0);
        const rules = { "svc.example.com": byUser ? { users: ["allowed0"] } : { roles: ruleRoles } };
        const claims = { sub, name: "n", roles: userRoles, aud: ["a"], iss: "i", iat: 0, nbf: 0, exp: 0, jti: "j" };
        const decision = decideAccess(rules, "svc.example.com", claims);
        const expected = byUser ? sub === "allowed0" : ruleRoles.some((r) => userRoles.includes(r));
        expect(decision.allowed).toBe(expected);
        expect(decideAccess(rules, "other.example.com", claims).allowed).toBe(true);
        expect(decideAccess(rules, undefined, claims).allowed).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("configuration parsing", () => {
  const keys = ["HA_URL", "COOKIE_NAME", "COOKIE_DOMAIN", "COOKIE_SECURE", "COOKIE_SAMESITE", "TOKEN_TTL", "JWT_AUDIENCE", "ALLOWED_ORIGINS", "REDIRECT_ALLOWLIST", "HA_TIMEOUT", "PUBLIC_URL", "ACCESS_RULES", "PREVIOUS_PUBLIC_KEYS", "RATE_LIMIT"];
  test("any environment gives either valid settings or problems that name a real key; never an exception", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.string({ maxLength: 60 }), fc.json())), (env) => {
        const result = loadSettings({ SIGNING_KEY: "x", HA_URL: "https://ha.example.com", ...env });
        if (result.ok) {
          expect(result.settings.tokenTtl).toBeGreaterThanOrEqual(60);
          expect(result.settings.allowedOrigins.length).toBeGreaterThan(0);
          expect(result.settings.cookie.name).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
          if (result.settings.cookie.sameSite === "None") expect(result.settings.cookie.secure).toBe(true);
        } else {
          for (const p of result.problems) expect([...keys, "SIGNING_KEY"]).toContain(p.key);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the whole app under generated requests", () => {
  test("no 5xx, no stack, and a cookie only for a token Home Assistant accepted", async () => {
    const key = (await generateKeyPair()).privatePem;
    // Home Assistant stand-in: accepts exactly one token.
    const GOOD = `${b64json({ alg: "HS256" })}.${b64json({ iss: "0".repeat(32), iat: now, exp: now + 1800 })}.${b64url(Buffer.alloc(32, 7))}`;
    const app = createApp({
      clientAddress: () => "198.51.100.7",
      fetchUser: async (_s, token) => {
        if (token === GOOD) return { id: "u1", name: "n", is_admin: false, is_owner: false };
        throw new HomeAssistantError("rejected", "no");
      },
    });
    const env = { HA_URL: "https://ha.example.com", SIGNING_KEY: key, COOKIE_DOMAIN: ".example.com", RATE_LIMIT: "1000000", HA_LOGIN_ATTEMPTS_THRESHOLD: "off", HA_REJECTIONS_PER_CLIENT: "1000", LOCAL_ONLY_CHECK: "off" };
    let issued = 0;
    const header = fc.oneof(fc.string({ maxLength: 100 }), jwtish.map((t) => `Bearer ${t}`), fc.constant(`Bearer ${GOOD}`));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "OPTIONS", "PUT", "DELETE"),
        fc.constantFrom("/session", "/logout", "/verify", "/healthz", "/.well-known/jwks.json", "/public-key.pem", "/nope", "/logout?rd=", "/verify?redirect=false"),
        fc.option(header, { nil: undefined }),
        fc.option(fc.oneof(fc.string({ maxLength: 100 }), jwtish.map((t) => `jwt_access_token=${t}`)), { nil: undefined }),
        fc.option(fc.oneof(fc.constant("https://ha.example.com"), fc.constant("null"), fc.webUrl()), { nil: undefined }),
        fc.string({ maxLength: 60 }),
        async (method, path, authorization, cookie, origin, rd) => {
          const headers = new Headers();
          const safe = (v: string) => v.replace(/[^\x20-\x7e]/g, "");
          if (authorization !== undefined) headers.set("Authorization", safe(authorization));
          if (cookie !== undefined) headers.set("Cookie", safe(cookie));
          if (origin !== undefined) headers.set("Origin", origin);
          const url = `https://auth.example.com${path}${path.endsWith("rd=") ? encodeURIComponent(rd) : ""}`;
          const response = await app.fetch(new Request(url, { method, headers }), env);
          expect(response.status).toBeLessThan(500);
          const body = await response.text();
          expect(body).not.toMatch(/\bat .+:\d+:\d+/);
          const setCookies = response.headers.getSetCookie();
          const issuing = setCookies.filter((c) => !c.includes("Max-Age=0"));
          if (issuing.length > 0) {
            expect(issuing).toHaveLength(1);
            expect(method).toBe("POST");
            expect(path).toBe("/session");
            expect(authorization?.trim()).toBe(`Bearer ${GOOD}`);
            expect(response.status).toBe(200);
            issued++;
          }
          if (setCookies.some((c) => c.includes("Max-Age=0"))) {
            // Clearing: a sign-out, or a successful sign-in clearing stray values of our name first.
            const signIn = path === "/session" && issuing.length === 1;
            expect(path.startsWith("/logout") || signIn).toBe(true);
            expect(response.status === 200 || response.status === 302).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
    expect(issued).toBeGreaterThan(0); // the valid path was exercised too
  });
});
