/**
 * The signer end to end over HTTP, in workerd and on Node, against the Home Assistant
 * double: every endpoint's success and its bad inputs. Every failure is checked for
 * "no Set-Cookie", and every locally rejectable token for "Home Assistant never saw it".
 */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../ha-double/index.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner } from "../support/signer.js";
import { normalizedSetCookie } from "../support/set-cookie.js";
import { fakeHaToken } from "../support/tokens.js";

const HA_ORIGIN_ALIAS = "https://ha.example.com";

describe.each(RUNTIMES)("signer on %s", (runtime) => {
  let ha: HomeAssistantDouble;
  let signer: RunningSigner;
  let admin: DoubleUser;
  let plain: DoubleUser;
  const started: RunningSigner[] = [];

  async function extraSigner(env: Record<string, string>): Promise<RunningSigner> {
    const s = await startSigner(runtime, env);
    started.push(s);
    return s;
  }

  async function baseEnv(): Promise<Record<string, string>> {
    return {
      HA_URL: ha.url,
      SIGNING_KEY: await testSigningKey(),
      ALLOWED_ORIGINS: `${ha.url},${HA_ORIGIN_ALIAS}`,
      COOKIE_DOMAIN: ".example.com",
      HA_TIMEOUT: "1500",
      RATE_LIMIT: "1000",
      // These tests send several rejected tokens in a row from one client; the ban guard that
      // would hold them back has its own tests (ha-ban-guard.test.ts).
      HA_LOGIN_ATTEMPTS_THRESHOLD: "off",
      HA_REJECTIONS_PER_CLIENT: "1000",
    };
  }

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    admin = ha.addUser({ name: "Admin", is_admin: true, is_owner: true });
    plain = ha.addUser({ name: "Plain", is_admin: false });
    signer = await startSigner(runtime, await baseEnv());
  });
  afterEach(() => {
    ha.setFault({ kind: "none" });
  });
  afterAll(async () => {
    await Promise.all([signer.close(), ...started.map((s) => s.close())]);
    await ha.close();
  });

  const post = (path: string, headers: Record<string, string> = {}, base = signer) =>
    fetch(`${base.url}${path}`, { method: "POST", headers, redirect: "manual" });

  async function expectError(response: Response, status: number, code: string) {
    const body = (await response.json()) as { error: string; message: string };
    expect({ status: response.status, error: body.error }).toEqual({ status, error: code });
    expect(body.message.length).toBeGreaterThan(15);
    expect(body.message).not.toMatch(/\bat \S+\.(ts|js):\d+/); // no stack trace
    expect(response.headers.get("set-cookie")).toBeNull();
    return body;
  }

  describe("POST /session", () => {
    test("a valid token gets the user and a cookie with the configured attributes", async () => {
      ha.resetStats();
      const response = await post("/session", { Authorization: `Bearer ${ha.accessToken(admin.id)}`, Origin: ha.url });
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      const now = Math.floor(Date.now() / 1000);
      expect(body).toEqual({
        user: { id: admin.id, name: "Admin", is_admin: true, is_owner: true },
        roles: ["user", "admin", "owner"],
        expires_at: expect.any(Number),
        issued_at: expect.any(Number),
        server_time: expect.any(Number),
        cookie: { name: "jwt_access_token", domain: ".example.com", secure: true },
      });
      expect(Math.abs((body.expires_at as number) - (now + 1800))).toBeLessThanOrEqual(2);
      const setCookie = response.headers.get("set-cookie")!;
      expect(normalizedSetCookie(setCookie)).toMatch(/^jwt_access_token=[\w-]+\.[\w-]+\.[\w-]+; Domain=\.example\.com; HttpOnly; Max-Age=1800; Path=\/; SameSite=Lax; Secure$/);
      expect(response.headers.get("access-control-allow-origin")).toBe(ha.url);
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      expect(response.headers.get("cache-control")).toBe("no-store");
      // Home Assistant saw exactly the protocol: auth, then auth/current_user with id 1.
      const inbound = ha.stats.frames.filter((f) => f.dir === "in").map((f) => JSON.parse(f.data));
      expect(inbound).toEqual([{ type: "auth", access_token: expect.any(String) }, { id: 1, type: "auth/current_user" }]);
      expect(ha.stats.failedLogins()).toBe(0);
      // Never an X-Forwarded-For towards Home Assistant.
      expect(ha.stats.requests.every((r) => !("x-forwarded-for" in r.headers))).toBe(true);
    });

    test("the JWT verifies with node:crypto against /public-key.pem and /.well-known/jwks.json", async () => {
      const response = await post("/session", { Authorization: `Bearer ${ha.accessToken(plain.id)}` });
      const jwt = /jwt_access_token=([^;]+)/.exec(response.headers.get("set-cookie")!)![1]!;
      const [h, p, s] = jwt.split(".") as [string, string, string];
      const pem = await (await fetch(`${signer.url}/public-key.pem`)).text();
      const jwks = (await (await fetch(`${signer.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      const header = JSON.parse(Buffer.from(h, "base64url").toString()) as { kid: string };
      const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
      for (const key of [createPublicKey(pem), createPublicKey({ key: jwk as never, format: "jwk" })]) {
        expect(nodeVerify("sha256", Buffer.from(`${h}.${p}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"))).toBe(true);
      }
      const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
      expect(claims).toMatchObject({ sub: plain.id, name: "Plain", roles: ["user"], aud: ["homeassistant"], iss: "homeassistant" });
      // Nothing from the Home Assistant token leaks into ours.
      expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "name", "nbf", "roles", "sub"]);
    });

    test.each([
      ["no Authorization", {}, 401, "missing_token"],
      ["empty Authorization", { Authorization: "" }, 401, "missing_token"],
      ["wrong scheme", { Authorization: "Basic dXNlcjpwYXNz" }, 400, "bad_authorization"],
      ["Bearer without token", { Authorization: "Bearer " }, 400, "bad_authorization"],
      ["two tokens", { Authorization: "Bearer a.b.c d.e.f" }, 400, "bad_authorization"],
      ["garbled token", { Authorization: "Bearer not-a-jwt" }, 400, "malformed_token"],
      ["alg none", { Authorization: `Bearer ${fakeHaToken({ alg: "none" })}` }, 400, "malformed_token"],
      ["iss not 32 hex", { Authorization: `Bearer ${fakeHaToken({ iss: "admin" })}` }, 400, "malformed_token"],
      ["expired HA token", { Authorization: `Bearer ${fakeHaToken({ exp: Math.floor(Date.now() / 1000) - 60 })}` }, 401, "token_expired"],
      ["10 kB header", { Authorization: `Bearer ${"a".repeat(10_240)}` }, 400, "malformed_token"],
    ])("%s → %i %s, never sent to Home Assistant", async (_label, headers, status, code) => {
      ha.resetStats();
      await expectError(await post("/session", headers as Record<string, string>), status, code);
      expect(ha.stats.wsConnections).toBe(0);
      expect(ha.stats.failedLogins()).toBe(0);
    });

    test("errors to an allowed origin carry CORS headers, so the frontend can read why", async () => {
      const response = await post("/session", { Authorization: "Bearer nope", Origin: ha.url });
      expect(response.headers.get("access-control-allow-origin")).toBe(ha.url);
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      await expectError(response, 400, "malformed_token");
    });

    test("a token Home Assistant rejects → 401 token_rejected, and it is never sent twice", async () => {
      ha.resetStats();
      const token = fakeHaToken(); // right shape, wrong key: another installation's token
      await expectError(await post("/session", { Authorization: `Bearer ${token}` }), 401, "token_rejected");
      await expectError(await post("/session", { Authorization: `Bearer ${token}` }), 401, "token_rejected");
      expect(ha.stats.authMessages).toBe(1);
      expect(ha.stats.failedLogins()).toBe(1);
    });

    test("a revoked refresh token's access token → 401 and no cookie", async () => {
      const refresh = ha.createRefreshToken(plain.id);
      const token = ha.accessToken(plain.id);
      ha.revokeRefreshToken(refresh.id);
      // accessToken() made its own refresh token; revoke that one by looking it up through the token's iss.
      const iss = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).iss as string;
      ha.revokeRefreshToken(iss);
      await expectError(await post("/session", { Authorization: `Bearer ${token}` }), 401, "token_rejected");
    });

    test("a deactivated user gets no cookie", async () => {
      const user = ha.addUser({ name: "Gone" });
      const token = ha.accessToken(user.id);
      ha.setUserActive(user.id, false);
      const response = await post("/session", { Authorization: `Bearer ${token}` });
      expect([401, 403]).toContain(response.status);
      await expectError(response, response.status, response.status === 401 ? "token_rejected" : "user_inactive");
    });

    test("foreign origins are refused before anything happens; preflights answer allowed origins only", async () => {
      ha.resetStats();
      const token = ha.accessToken(admin.id);
      for (const origin of ["https://evil.example", "null", `${ha.url}.evil.example`, ha.url.replace("http:", "https:"), `${ha.url}0`, "https://example.com"]) {
        await expectError(await post("/session", { Authorization: `Bearer ${token}`, Origin: origin }), 403, "origin_not_allowed");
      }
      expect(ha.stats.wsConnections).toBe(0);
      const ok = await fetch(`${signer.url}/session`, {
        method: "OPTIONS",
        headers: { Origin: HA_ORIGIN_ALIAS, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" },
      });
      expect(ok.status).toBe(204);
      expect(ok.headers.get("access-control-allow-origin")).toBe(HA_ORIGIN_ALIAS);
      expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
      expect(ok.headers.get("access-control-allow-headers")).toMatch(/Authorization/i);
      const bad = await fetch(`${signer.url}/session`, {
        method: "OPTIONS",
        headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
      });
      expect(bad.status).toBe(403);
      expect(bad.headers.get("access-control-allow-origin")).toBeNull();
    });

    test("100 concurrent requests with one token cause exactly one Home Assistant lookup", async () => {
      ha.resetStats();
      const token = ha.accessToken(plain.id);
      const responses = await Promise.all(Array.from({ length: 100 }, () => post("/session", { Authorization: `Bearer ${token}` })));
      expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
      expect(ha.stats.authMessages).toBe(1);
      expect(ha.stats.currentUserRequests).toBe(1);
    });

    test("Home Assistant down → 502 ha_unreachable, promptly; service resumes when it returns", async () => {
      const s = await extraSigner(await baseEnv());
      const token = ha.accessToken(plain.id);
      await ha.stop();
      try {
        const t0 = Date.now();
        await expectError(await post("/session", { Authorization: `Bearer ${token}` }, s), 502, "ha_unreachable");
        expect(Date.now() - t0).toBeLessThan(1500);
      } finally {
        await ha.start();
      }
      expect((await post("/session", { Authorization: `Bearer ${token}` }, s)).status).toBe(200);
    });

    test("Home Assistant silent → 504 ha_timeout within HA_TIMEOUT", async () => {
      ha.setFault({ kind: "hang" });
      const t0 = Date.now();
      await expectError(await post("/session", { Authorization: `Bearer ${ha.accessToken(plain.id)}` }), 504, "ha_timeout");
      expect(Date.now() - t0).toBeLessThan(3000);
    });

    test("Home Assistant slow but within HA_TIMEOUT → 200", async () => {
      ha.setFault({ kind: "slow", delayMs: 150 });
      expect((await post("/session", { Authorization: `Bearer ${ha.accessToken(plain.id)}` })).status).toBe(200);
    });

    test.each([
      ["garbage frames", { kind: "garbage" as const }, 502, "ha_protocol"],
      ["closed mid-handshake", { kind: "close_mid_handshake" as const }, 502, "ha_protocol"],
      ["HTTP 500 on upgrade", { kind: "http_500" as const }, 502, "ha_unreachable"],
    ])("Home Assistant %s → %i %s", async (_label, fault, status, code) => {
      ha.setFault(fault);
      await expectError(await post("/session", { Authorization: `Bearer ${ha.accessToken(plain.id)}` }), status, code);
    });

    test("rate limited per client address → 429 with Retry-After, no cookie", async () => {
      const s = await extraSigner({ ...(await baseEnv()), RATE_LIMIT: "3" });
      const token = ha.accessToken(plain.id);
      for (let i = 0; i < 3; i++) expect((await post("/session", { Authorization: `Bearer ${token}` }, s)).status).toBe(200);
      const limited = await post("/session", { Authorization: `Bearer ${token}` }, s);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      await expectError(limited, 429, "rate_limited");
    });

    test("the failed-auth counter stays 0 after a barrage of locally rejectable tokens", async () => {
      ha.resetStats();
      const now = Math.floor(Date.now() / 1000);
      const tokens = [fakeHaToken({ exp: now - 3600 }), fakeHaToken({ alg: "HS512" }), fakeHaToken({ iss: "x" }), "a.b.c", "", "e30.e30.e30"];
      for (const t of tokens) expect((await post("/session", { Authorization: `Bearer ${t}` })).status).toBeGreaterThanOrEqual(400);
      expect(ha.stats.wsConnections).toBe(0);
      expect(ha.stats.failedLogins()).toBe(0);
    });
    test("a token within Home Assistant's leeway after its exp is not sent: Home Assistant would refuse it by the time it arrives", async () => {
      // Early in a second, so that the signer's whole-second clock reads the same second as ours.
      await new Promise((resolve) => setTimeout(resolve, 1020 - (Date.now() % 1000)));
      const now = Math.floor(Date.now() / 1000);
      const token = ha.accessToken(plain.id, { issuedAt: now - 1810, ttlSeconds: 1800 }); // exp = now - 10
      ha.resetStats();
      await expectError(await post("/session", { Authorization: `Bearer ${token}`, Origin: ha.url }), 401, "token_expired");
      expect(ha.stats.authMessages).toBe(0);
      expect(ha.stats.failedLogins()).toBe(0);
    });
  });

  describe("logout", () => {
    test("POST /logout clears the cookie with the same name, Domain and Path", async () => {
      const response = await post("/logout", { Origin: ha.url });
      expect(response.status).toBe(200);
      // First our cookie as it was set; then the host-only and parent-domain variants a sibling may have planted.
      const [ours, ...strays] = response.headers.getSetCookie();
      expect(normalizedSetCookie(ours!)).toBe(
        "jwt_access_token=; Domain=.example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax; Secure",
      );
      for (const stray of strays) expect(normalizedSetCookie(stray)).toMatch(/^jwt_access_token=; (Domain=[^;]+; )?Expires=[^;]+; HttpOnly; Max-Age=0; Path=\/;/);
    });
    test("POST /logout from a foreign origin is refused and clears nothing", async () => {
      await expectError(await post("/logout", { Origin: "https://evil.example" }), 403, "origin_not_allowed");
    });
    test("a forged Host header does not make its own host an allowed redirect target", async () => {
      const { request } = await import("node:http");
      const url = new URL(`${signer.url}/logout?rd=${encodeURIComponent("http://evil.example/x")}`);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers: { Host: "evil.example" } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(400);
    });

    test("GET /logout?rd= redirects to an allowed target only", async () => {
      const ok = await fetch(`${signer.url}/logout?rd=${encodeURIComponent("https://grafana.example.com/x")}`, { redirect: "manual", headers: { "Sec-Fetch-Site": "same-site" } });
      expect(ok.status).toBe(302);
      expect(ok.headers.get("location")).toBe("https://grafana.example.com/x");
      expect(ok.headers.get("set-cookie")).toMatch(/Max-Age=0/);
      for (const rd of ["//evil.example", "https://evil.example@grafana.example.com", "https://grafana.example.com.evil.example/", "javascript:alert(1)"]) {
        await expectError(await fetch(`${signer.url}/logout?rd=${encodeURIComponent(rd)}`, { redirect: "manual" }), 400, "redirect_not_allowed");
      }
    });
  });

  describe("sign-out by link (no other site can sign anyone out)", () => {
    const rd = "https://grafana.example.com/after?x=1";
    const cookieOf = async (user: DoubleUser) => (await post("/session", { Authorization: `Bearer ${ha.accessToken(user.id)}` })).headers.get("set-cookie")!.split(";")[0]!;
    const verifies = async (cookie: string) => (await fetch(`${signer.url}/verify`, { headers: { Cookie: cookie } })).status === 200;
    const getLogout = (cookie: string, headers: Record<string, string>, query = `?rd=${encodeURIComponent(rd)}`) =>
      fetch(`${signer.url}/logout${query}`, { redirect: "manual", headers: { Cookie: cookie, Accept: "text/html", ...headers } });

    test("a cross-site link (or one without fetch metadata) gets a confirmation page: nothing revoked, no Set-Cookie", async () => {
      const cookie = await cookieOf(plain);
      const sources: Array<Record<string, string>> = [{ "Sec-Fetch-Site": "cross-site" }, {}, { Referer: "https://evil.example/page" }];
      for (const headers of sources) {
        const page = await getLogout(cookie, headers);
        expect(page.status, JSON.stringify(headers)).toBe(200);
        expect(page.headers.get("set-cookie")).toBeNull();
        expect(page.headers.get("cache-control")).toBe("no-store");
        const csp = page.headers.get("content-security-policy")!;
        expect(csp).toContain("default-src 'none'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("form-action 'self' https://grafana.example.com");
        const html = await page.text();
        expect(html).toContain('<form method="post" action="/logout">');
        expect(html).toContain(`<input type="hidden" name="rd" value="${rd.replace("&", "&#38;")}">`);
        expect(html).not.toMatch(/<script/i);
      }
      expect(await verifies(cookie)).toBe(true);
      // A disallowed rd is still a 400, with or without confirmation.
      await expectError(await getLogout(cookie, { "Sec-Fetch-Site": "cross-site" }, "?rd=https%3A%2F%2Fevil.example%2F"), 400, "redirect_not_allowed");
    });

    test("a same-site link (a protected service's sign-out), a typed URL or a Referer under COOKIE_DOMAIN signs out at once", async () => {
      const sources: Array<Record<string, string>> = [{ "Sec-Fetch-Site": "same-site" }, { "Sec-Fetch-Site": "none" }, { Referer: "https://grafana.example.com/profile" }];
      for (const headers of sources) {
        const cookie = await cookieOf(plain);
        const response = await getLogout(cookie, headers);
        expect(response.status, JSON.stringify(headers)).toBe(302);
        expect(response.headers.get("location")).toBe(rd);
        expect(normalizedSetCookie(response.headers.getSetCookie()[0]!)).toMatch(/^jwt_access_token=; Domain=\.example\.com; .*Max-Age=0; Path=\//);
        expect(await verifies(cookie)).toBe(false);
      }
    });

    test("the confirmation page's POST signs out and returns to rd", async () => {
      const cookie = await cookieOf(plain);
      const response = await fetch(`${signer.url}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { Cookie: cookie, Origin: signer.url, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ rd }).toString(),
      });
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe(rd);
      expect(normalizedSetCookie(response.headers.getSetCookie()[0]!)).toMatch(/^jwt_access_token=; .*Max-Age=0; Path=\//);
      expect(await verifies(cookie)).toBe(false);
      // Without rd: a page saying so; with a disallowed rd: 400 and nothing changed.
      const other = await cookieOf(plain);
      const form = (body: string) =>
        fetch(`${signer.url}/logout`, { method: "POST", redirect: "manual", headers: { Cookie: other, Origin: signer.url, "Content-Type": "application/x-www-form-urlencoded" }, body });
      await expectError(await form("rd=https%3A%2F%2Fevil.example%2F"), 400, "redirect_not_allowed");
      expect(await verifies(other)).toBe(true);
      const page = await form("");
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Signed out");
      expect(await verifies(other)).toBe(false);
    });

    test("a cross-site form POST is refused whatever it carries: foreign Origin, Origin null, or no Origin but Sec-Fetch-Site cross-site", async () => {
      const cookie = await cookieOf(plain);
      const attempts: Array<Record<string, string>> = [
        { Origin: "https://evil.example" },
        { Origin: "null" },
        { "Sec-Fetch-Site": "cross-site" },
        { Origin: "null", "Sec-Fetch-Site": "cross-site" },
      ];
      for (const headers of attempts) {
        const response = await fetch(`${signer.url}/logout`, {
          method: "POST",
          redirect: "manual",
          headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded", ...headers },
          body: new URLSearchParams({ rd }).toString(),
        });
        await expectError(response, 403, "Origin" in headers ? "origin_not_allowed" : "cross_site_request");
      }
      expect(await verifies(cookie)).toBe(true);
    });
  });

  describe("several cookies under our name (planted by a sibling host)", () => {
    const sessionOf = async (user: DoubleUser, cookie?: string) => {
      const response = await post("/session", { Authorization: `Bearer ${ha.accessToken(user.id)}`, ...(cookie ? { Cookie: cookie } : {}) });
      return response.headers.getSetCookie().at(-1)!.split(";")[0]!.slice("jwt_access_token=".length);
    };
    const cookies = (...values: string[]) => values.map((v) => `jwt_access_token=${v}`).join("; ");
    const verify = (cookie: string) => fetch(`${signer.url}/verify`, { headers: { Cookie: cookie } });

    test("garbage beside a valid cookie is ignored by /verify and GET /session; POST /logout revokes the valid one", async () => {
      const good = await sessionOf(plain);
      for (const cookie of [cookies("garbage", good), cookies(good, "x.y.z"), cookies(`${good.slice(0, -4)}AAAA`, good)]) {
        const verified = await verify(cookie);
        expect(verified.status).toBe(200);
        expect(verified.headers.get("remote-user")).toBe(plain.id);
        const status = (await (await fetch(`${signer.url}/session`, { headers: { Cookie: cookie } })).json()) as Record<string, unknown>;
        expect(status).toMatchObject({ present: true, valid: true, claims: { sub: plain.id } });
      }
      const logout = await post("/logout", { Origin: ha.url, Cookie: cookies("garbage", good) });
      expect(logout.status).toBe(200);
      expect((await verify(cookies(good))).status).toBe(401);
    });

    test("two valid cookies of the same user: the newest counts; of two different users: refused (401)", async () => {
      const older = await sessionOf(plain);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // a later iat
      const newer = await sessionOf(admin);
      const newest = await sessionOf(plain);
      expect((await verify(cookies(older, newest))).status).toBe(200);
      const mixed = await verify(cookies(older, newer));
      expect(mixed.status).toBe(401);
      expect(((await mixed.json()) as { message: string }).message).toContain("ambiguous_cookie");
      expect((await verify(cookies("garbage", newer, "junk", newest))).status).toBe(401);
    });

    test("at most 8 values are considered: 7 planted ones still let the real one through, 8 do not", async () => {
      const good = await sessionOf(plain);
      const planted = (n: number) => Array.from({ length: n }, (_, i) => `planted${i}`);
      expect((await verify(cookies(...planted(7), good))).status).toBe(200);
      expect((await verify(cookies(...planted(8), good))).status).toBe(401);
    });

    test("signing in over planted cookies clears the variants the signer can name, then sets its own", async () => {
      const good = await sessionOf(plain);
      const response = await post("/session", { Authorization: `Bearer ${ha.accessToken(plain.id)}`, Cookie: cookies("garbage", good) });
      expect(response.status).toBe(200);
      const set = response.headers.getSetCookie();
      expect(set.length).toBeGreaterThan(1);
      expect(normalizedSetCookie(set.at(-1)!)).toMatch(/^jwt_access_token=[^;]+; Domain=\.example\.com; HttpOnly; Max-Age=\d+; Path=\//);
      for (const clearing of set.slice(0, -1)) {
        expect(normalizedSetCookie(clearing)).toMatch(/^jwt_access_token=; .*Max-Age=0; Path=\//);
        expect(clearing).not.toContain("Domain=.example.com;");
      }
      // A clean sign-in sets only its cookie.
      expect((await post("/session", { Authorization: `Bearer ${ha.accessToken(plain.id)}` })).headers.getSetCookie()).toHaveLength(1);
    });
  });

  describe("keys and health", () => {
    test("JWKS and PEM with sensible cache headers", async () => {
      const jwks = await fetch(`${signer.url}/.well-known/jwks.json`);
      expect(jwks.headers.get("cache-control")).toMatch(/max-age=\d+/);
      const body = (await jwks.json()) as { keys: Array<Record<string, string>> };
      expect(body.keys).toHaveLength(1);
      expect(body.keys[0]).toEqual({ kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: "ES256", use: "sig" });
      const pem = await fetch(`${signer.url}/public-key.pem`);
      expect(await pem.text()).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    });

    test("/healthz reports a valid configuration without secrets", async () => {
      const response = await fetch(`${signer.url}/healthz`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(JSON.parse(text)).toMatchObject({ status: "ok", ha_url: ha.url });
      expect(text).not.toMatch(/PRIVATE|"d"/);
    });
  });

  describe("misconfiguration", () => {
    test.each([
      ["no HA_URL", "HA_URL", { HA_URL: "" }],
      ["no key", "SIGNING_KEY", { SIGNING_KEY: "" }],
      ["bad key", "SIGNING_KEY", { SIGNING_KEY: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }],
      ["bad TTL", "TOKEN_TTL", { TOKEN_TTL: "soon" }],
      ["the retired HA_CACHE_TTL", "HA_ANSWER_MAX_AGE", { HA_CACHE_TTL: "300" }],
    ])("%s → every endpoint answers 500 misconfigured naming %s, and nothing is signed", async (_label, key, override) => {
      const s = await extraSigner({ ...(await baseEnv()), ...override });
      ha.resetStats();
      for (const [method, path] of [["POST", "/session"], ["GET", "/verify"], ["GET", "/.well-known/jwks.json"], ["GET", "/healthz"], ["POST", "/logout"]] as const) {
        const response = await fetch(`${s.url}${path}`, { method, headers: { Authorization: `Bearer ${ha.accessToken(plain.id)}` } });
        const body = await expectError(response, 500, "misconfigured");
        expect(body.message).toContain(key);
        expect(body.message).not.toMatch(/BEGIN PRIVATE KEY/);
      }
      expect(ha.stats.wsConnections).toBe(0);
    });
  });

  describe("GET /verify and GET /session", () => {
    test("a fresh cookie verifies and the identity headers match; GET /session reports it without revealing it", async () => {
      const response = await post("/session", { Authorization: `Bearer ${ha.accessToken(admin.id)}` });
      const cookie = response.headers.get("set-cookie")!.split(";")[0]!;
      const verified = await fetch(`${signer.url}/verify`, { headers: { Cookie: cookie } });
      expect(verified.status).toBe(200);
      expect(verified.headers.get("remote-user")).toBe(admin.id);
      expect(verified.headers.get("remote-name")).toBe("Admin");
      expect(verified.headers.get("remote-groups")).toBe("user,admin,owner");
      const status = await fetch(`${signer.url}/session`, { headers: { Cookie: cookie } });
      const body = (await status.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ present: true, valid: true, claims: { sub: admin.id, name: "Admin", roles: ["user", "admin", "owner"] } });
      expect(JSON.stringify(body)).not.toContain(cookie.split("=")[1]!);
      const none = (await (await fetch(`${signer.url}/session`)).json()) as Record<string, unknown>;
      expect(none).toMatchObject({ present: false, valid: false });
    });

    test("ACCESS_RULES choose the rule by the canonical host: case, a trailing dot, a port or IDN spelling change nothing; invalid hosts are refused", async () => {
      const s = await extraSigner({
        ...(await baseEnv()),
        ACCESS_RULES: JSON.stringify({
          "grafana.example.test": { roles: ["admin"] },
          "*.admin.example.test": { roles: ["admin"] },
          "bücher.example.test": { roles: ["admin"] },
        }),
      });
      const cookieOf = async (id: string) =>
        (await post("/session", { Authorization: `Bearer ${ha.accessToken(id)}` }, s)).headers.get("set-cookie")!.split(";")[0]!;
      const [plainCookie, adminCookie] = [await cookieOf(plain.id), await cookieOf(admin.id)];
      const verify = (cookie: string, host: string) => fetch(`${s.url}/verify`, { headers: { Cookie: cookie, "X-Forwarded-Host": host } });
      const ruled = [
        "grafana.example.test",
        "grafana.example.test.",
        "GRAFANA.EXAMPLE.TEST.",
        "grafana.example.test.:8080",
        "x.admin.example.test",
        "x.admin.example.test.",
        "X.ADMIN.EXAMPLE.TEST.",
        "x.admin.example.test.:8080",
        "xn--bcher-kva.example.test",
        "XN--BCHER-KVA.EXAMPLE.TEST.:443",
      ];
      for (const host of ruled) {
        const refused = await verify(plainCookie, host);
        expect(refused.status, host).toBe(403);
        expect(((await refused.json()) as { message: string }).message).toContain("needs the role admin");
        expect((await verify(adminCookie, host)).status, host).toBe(200);
      }
      for (const host of ["grafana.example.test..", "grafana.example.test:", "grafana example.test", "grafana.example.test:8080:1", "[::1", "0x7f.1"]) {
        const response = await verify(adminCookie, host);
        expect(response.status, host).toBe(403);
        expect(((await response.json()) as { message: string }).message).toContain("not a valid host name");
      }
      // A host without a rule stays open to any signed-in user.
      expect((await verify(plainCookie, "wiki.example.test.:8080")).status).toBe(200);
    });

    test("no cookie: 401 for API calls, 302 to sign-in for browser navigations, 401 for nginx", async () => {
      expect((await fetch(`${signer.url}/verify`)).status).toBe(401);
      const nav = await fetch(`${signer.url}/verify`, {
        redirect: "manual",
        headers: { Accept: "text/html", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "grafana.example.com", "X-Forwarded-Uri": "/d/1?x=2" },
      });
      expect(nav.status).toBe(302);
      expect(nav.headers.get("location")).toBe(`${signer.url}/login?rd=${encodeURIComponent("https://grafana.example.com/d/1?x=2")}`);
      const nginx = await fetch(`${signer.url}/verify?redirect=false`, { headers: { Accept: "text/html" } });
      expect(nginx.status).toBe(401);
    });
  });
});
