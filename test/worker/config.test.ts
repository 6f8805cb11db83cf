import { describe, expect, test } from "vitest";
import { describeProblems, loadNodeServerSettings, loadSettings, loadVerifierSettings, parseOrigin } from "../../worker/config.js";

const base = { HA_URL: "https://ha.example.com", SIGNING_KEY: "-----BEGIN PRIVATE KEY-----x-----END PRIVATE KEY-----" };

function problemsOf(env: Record<string, string>) {
  const result = loadSettings(env);
  return result.ok ? [] : result.problems;
}

describe("loadSettings", () => {
  test("defaults follow the issue", () => {
    const result = loadSettings(base);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const s = result.settings;
    expect(s.haUrl).toBe("https://ha.example.com");
    expect(s.haWebSocketUrl).toBe("wss://ha.example.com/api/websocket");
    expect(s.cookie).toEqual({ name: "jwt_access_token", domain: undefined, secure: true, httpOnly: true, sameSite: "Lax" });
    expect(s.tokenTtl).toBe(1800);
    expect(s.jwt).toEqual({ issuer: "homeassistant", audience: ["homeassistant"] });
    expect(s.allowedOrigins).toEqual(["https://ha.example.com"]);
    expect(s.haTimeoutMs).toBe(5000);
    expect(s.haAnswerMaxAgeSeconds).toBe(10);
  });

  test("every documented key is read and normalised", () => {
    const result = loadSettings({
      ...base,
      HA_URL: "http://192.168.1.10:8123/",
      COOKIE_NAME: "sso",
      COOKIE_DOMAIN: ".Example.com",
      COOKIE_SECURE: "false",
      COOKIE_HTTP_ONLY: "no",
      COOKIE_SAMESITE: "strict",
      TOKEN_TTL: "15m",
      JWT_ISSUER: "me",
      JWT_AUDIENCE: "a, b",
      ALLOWED_ORIGINS: "https://ha.example.com, http://192.168.1.10:8123",
      REDIRECT_ALLOWLIST: "grafana.example.net,*.lan.example.org,https://nas.example.net:5001",
      HA_TIMEOUT: "2s",
      HA_ANSWER_MAX_AGE: "1",
      PUBLIC_URL: "https://auth.example.com/",
      ACCESS_RULES: '{"Grafana.example.com":{"roles":["admin"]}}',
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const s = result.settings;
    expect(s.haUrl).toBe("http://192.168.1.10:8123");
    expect(s.haWebSocketUrl).toBe("ws://192.168.1.10:8123/api/websocket");
    expect(s.cookie).toEqual({ name: "sso", domain: ".example.com", secure: false, httpOnly: false, sameSite: "Strict" });
    expect(s.tokenTtl).toBe(900);
    expect(s.jwt).toEqual({ issuer: "me", audience: ["a", "b"] });
    expect(s.allowedOrigins).toEqual(["https://ha.example.com", "http://192.168.1.10:8123"]);
    expect(s.redirectAllowlist).toEqual(["grafana.example.net", "*.lan.example.org", "https://nas.example.net:5001"]);
    expect(s.haTimeoutMs).toBe(2000);
    expect(s.haAnswerMaxAgeSeconds).toBe(1);
    expect(s.publicUrl).toBe("https://auth.example.com");
    expect(s.accessRules).toEqual({ "grafana.example.com": { roles: ["admin"] } });
  });

  test("host settings are stored in the canonical form the checks compare", () => {
    const result = loadSettings({
      ...base,
      COOKIE_DOMAIN: ".Bücher.Example.",
      REDIRECT_ALLOWLIST: "Grafana.Example.NET.,*.LAN.example.org.",
      ACCESS_RULES: '{"GRAFANA.example.com.":{"roles":["admin"]},"*.Admin.Example.com":{"users":["u"]}}',
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.settings.cookie.domain).toBe(".xn--bcher-kva.example");
    expect(result.settings.redirectAllowlist).toEqual(["grafana.example.net", "*.lan.example.org"]);
    expect(result.settings.accessRules).toEqual({ "grafana.example.com": { roles: ["admin"] }, "*.admin.example.com": { users: ["u"] } });
    const hostOnly = loadSettings({ ...base, COOKIE_DOMAIN: "Example.COM." });
    expect(hostOnly.ok && hostOnly.settings.cookie.domain).toBe("example.com");
  });

  test.each([
    [{ HA_URL: "" }, "HA_URL"],
    [{ HA_URL: "ha.example.com" }, "HA_URL"],
    [{ HA_URL: "https://user:pw@ha.example.com" }, "HA_URL"],
    [{ HA_URL: "https://ha.example.com/lovelace" }, "HA_URL"],
    [{ HA_URL: "ftp://ha.example.com" }, "HA_URL"],
    [{ SIGNING_KEY: "" }, "SIGNING_KEY"],
    [{ PREVIOUS_PUBLIC_KEYS: "{" }, "PREVIOUS_PUBLIC_KEYS"],
    [{ PREVIOUS_PUBLIC_KEYS: '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}]}' }, "PREVIOUS_PUBLIC_KEYS"],
    [{ PREVIOUS_PUBLIC_KEYS: '{"keys":[{"kty":"RSA","n":"a","e":"AQAB"}]}' }, "PREVIOUS_PUBLIC_KEYS"],
    [{ COOKIE_NAME: "bad name" }, "COOKIE_NAME"],
    [{ COOKIE_NAME: "a;b" }, "COOKIE_NAME"],
    [{ COOKIE_NAME: "__Host-x", COOKIE_DOMAIN: ".example.com" }, "COOKIE_NAME"],
    [{ COOKIE_NAME: "__host-x", COOKIE_DOMAIN: ".example.com" }, "COOKIE_NAME"],
    [{ COOKIE_NAME: "__SECURE-x", COOKIE_SECURE: "false" }, "COOKIE_NAME"],
    [{ COOKIE_DOMAIN: "com" }, "COOKIE_DOMAIN"],
    [{ COOKIE_DOMAIN: "192.168.1.1" }, "COOKIE_DOMAIN"],
    [{ COOKIE_DOMAIN: "exa mple.com" }, "COOKIE_DOMAIN"],
    [{ COOKIE_DOMAIN: ".example.com:443" }, "COOKIE_DOMAIN"],
    [{ COOKIE_DOMAIN: ".example.com.." }, "COOKIE_DOMAIN"],
    [{ REDIRECT_ALLOWLIST: "grafana.example.com:443" }, "REDIRECT_ALLOWLIST"],
    [{ COOKIE_SECURE: "maybe" }, "COOKIE_SECURE"],
    [{ COOKIE_HTTP_ONLY: "2" }, "COOKIE_HTTP_ONLY"],
    [{ COOKIE_SAMESITE: "lax-ish" }, "COOKIE_SAMESITE"],
    [{ COOKIE_SAMESITE: "None", COOKIE_SECURE: "false" }, "COOKIE_SAMESITE"],
    [{ TOKEN_TTL: "0" }, "TOKEN_TTL"],
    [{ TOKEN_TTL: "-5" }, "TOKEN_TTL"],
    [{ TOKEN_TTL: "2d" }, "TOKEN_TTL"],
    [{ TOKEN_TTL: "99999999" }, "TOKEN_TTL"],
    [{ JWT_AUDIENCE: " , " }, "JWT_AUDIENCE"],
    [{ ALLOWED_ORIGINS: "*" }, "ALLOWED_ORIGINS"],
    [{ ALLOWED_ORIGINS: "https://ha.example.com/path" }, "ALLOWED_ORIGINS"],
    [{ ALLOWED_ORIGINS: "null" }, "ALLOWED_ORIGINS"],
    [{ REDIRECT_ALLOWLIST: "javascript:alert(1)" }, "REDIRECT_ALLOWLIST"],
    // A wildcard over a top-level domain would make /login and /logout redirect to any .com site.
    [{ REDIRECT_ALLOWLIST: "*.com" }, "REDIRECT_ALLOWLIST"],
    [{ REDIRECT_ALLOWLIST: "*.COM." }, "REDIRECT_ALLOWLIST"],
    [{ HA_TIMEOUT: "forever" }, "HA_TIMEOUT"],
    [{ PUBLIC_URL: "auth.example.com" }, "PUBLIC_URL"],
    [{ ACCESS_RULES: "[]" }, "ACCESS_RULES"],
    [{ ACCESS_RULES: '{"x.example.com":{"roles":"admin"}}' }, "ACCESS_RULES"],
    [{ ACCESS_RULES: '{"x.example.com":{}}' }, "ACCESS_RULES"],
    [{ RATE_LIMIT: "lots" }, "RATE_LIMIT"],
    [{ HA_ANSWER_MAX_AGE: "61" }, "HA_ANSWER_MAX_AGE"],
    [{ HA_ANSWER_MAX_AGE: "5m" }, "HA_ANSWER_MAX_AGE"],
    [{ HA_ANSWER_MAX_AGE: "soon" }, "HA_ANSWER_MAX_AGE"],
  ])("%j is refused with a message naming %s", (override, key) => {
    const problems = problemsOf({ ...base, ...override });
    expect(problems.map((p) => p.key)).toContain(key);
    const text = describeProblems(problems);
    expect(text).toContain(key);
    // Every message says what to do, not only what is wrong.
    for (const p of problems) expect(p.message.length).toBeGreaterThan(20);
  });

  test("the retired HA_CACHE_TTL is refused with a message that names its replacement, whatever its value", () => {
    for (const value of ["300", "0", "10"]) {
      const problems = problemsOf({ ...base, HA_CACHE_TTL: value });
      expect(problems.map((p) => p.key)).toEqual(["HA_CACHE_TTL"]);
      expect(problems[0]!.message).toMatch(/no longer supported.*HA_ANSWER_MAX_AGE.*Remove HA_CACHE_TTL/);
    }
  });

  test("all problems are reported together", () => {
    const problems = problemsOf({ HA_URL: "nope", COOKIE_SAMESITE: "x", TOKEN_TTL: "x" });
    expect(problems.map((p) => p.key).sort()).toEqual(["COOKIE_SAMESITE", "HA_URL", "SIGNING_KEY", "TOKEN_TTL"]);
  });

  test("non-string bindings (KV, assets) are ignored, not mistaken for settings", () => {
    expect(loadSettings({ ...base, COOKIE_NAME: { get() {} } as unknown as string }).ok).toBe(true);
  });

  test("parseOrigin refuses everything but a bare origin", () => {
    expect(parseOrigin("https://a.example.com")).toBe("https://a.example.com");
    expect(parseOrigin("https://A.example.com:443")).toBe("https://a.example.com");
    for (const bad of ["null", "https://a.example.com/x", "https://a.example.com?x", "javascript:x", "//a.example.com", "https://u@a.example.com", "https:\\\\a.example.com", "https:/a.example.com"]) {
      expect(parseOrigin(bad)).toBeUndefined();
    }
  });
});

describe("Home Assistant ban guard settings", () => {
  const settingsOf = (env: Record<string, string>) => {
    const result = loadSettings({ ...base, ...env });
    if (!result.ok) throw new Error(describeProblems(result.problems));
    return result.settings.haGuard;
  };

  test("defaults: no HA_TOKEN, threshold assumed 3, 3 rejections per client per 600 s", () => {
    expect(settingsOf({})).toEqual({ serviceToken: undefined, loginAttemptsThreshold: 3, rejectionsPerClient: 3, rejectionWindowSeconds: 600 });
  });

  test("off / 0 / -1 mean Home Assistant bans nobody; 2..1000 are taken as given", () => {
    for (const off of ["off", "OFF", "0", "-1"]) expect(settingsOf({ HA_LOGIN_ATTEMPTS_THRESHOLD: off }).loginAttemptsThreshold).toBeUndefined();
    expect(settingsOf({ HA_LOGIN_ATTEMPTS_THRESHOLD: "5", HA_REJECTIONS_PER_CLIENT: "7", HA_REJECTION_WINDOW: "1h" })).toMatchObject({
      loginAttemptsThreshold: 5,
      rejectionsPerClient: 7,
      rejectionWindowSeconds: 3600,
    });
  });

  test.each([
    ["HA_LOGIN_ATTEMPTS_THRESHOLD", "1"],
    ["HA_LOGIN_ATTEMPTS_THRESHOLD", "three"],
    ["HA_REJECTIONS_PER_CLIENT", "0"],
    ["HA_REJECTION_WINDOW", "5"],
    ["HA_TOKEN", "not-a-token"],
  ])("%s=%s is refused with a message naming the key", (key, value) => {
    const problems = problemsOf({ ...base, [key]: value });
    expect(problems.map((p) => p.key)).toEqual([key]);
  });
});

describe("verifier and Node data settings (issue 9)", () => {
  test("SIGNER_URL is required and must be a plain http(s) URL; defaults as documented", () => {
    const missing = loadVerifierSettings({});
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.problems.map((p) => p.key)).toEqual(["SIGNER_URL"]);
    for (const bad of ["auth.example.com", "ftp://a", "https://u:p@a", "https://a/?x=1", "https://a/#x"]) {
      const result = loadVerifierSettings({ SIGNER_URL: bad });
      expect(result.ok, bad).toBe(false);
      if (!result.ok) expect(result.problems[0]!.message).toContain(bad);
    }
    const ok = loadVerifierSettings({ SIGNER_URL: "https://Auth.example.com/jwt/" });
    expect(ok).toEqual({
      ok: true,
      settings: {
        signerUrl: "https://auth.example.com/jwt",
        port: 8788,
        host: "127.0.0.1",
        revocationsPollMs: 10_000,
        keysRefreshMs: 300_000,
        unknownKidRefetchMs: 5_000,
        cacheMaxEntries: 10_000,
        proxyApprovalCacheSeconds: 5,
      },
    });
    const bad = loadVerifierSettings({ SIGNER_URL: "http://127.0.0.1:8787", REVOCATIONS_POLL: "0", KEYS_REFRESH: "soon" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.map((p) => p.key)).toEqual(["REVOCATIONS_POLL", "KEYS_REFRESH"]);
  });
  test("PROXY_APPROVAL_CACHE: 0 (never) or 2 to 60 seconds; one second cannot be told to nginx", () => {
    const cache = (value: string) => {
      const result = loadVerifierSettings({ SIGNER_URL: "http://127.0.0.1:8787", PROXY_APPROVAL_CACHE: value });
      return result.ok ? result.settings.proxyApprovalCacheSeconds : result.problems.map((p) => `${p.key}: ${p.message}`).join("\n");
    };
    expect(cache("0")).toBe(0);
    expect(cache("2")).toBe(2);
    expect(cache("5s")).toBe(5);
    expect(cache("1m")).toBe(60);
    expect(cache("1")).toContain("use 0 (never reuse an approval) or 2 to 60 seconds");
    expect(cache("1s")).toContain('"1s" (one second)');
    for (const bad of ["61", "2m", "1500ms", "-1", "soon"]) expect(cache(bad), bad).toMatch(/^PROXY_APPROVAL_CACHE: /);
  });
  test("TRUSTED_PROXIES: IP addresses, in the form the socket reports them; anything that could never match is refused", () => {
    expect(loadNodeServerSettings({ TRUSTED_PROXIES: "10.0.0.2, ::1 ::FFFF:10.0.0.3,2001:DB8:0:0::1" })).toMatchObject({
      ok: true,
      server: { trustedProxies: ["10.0.0.2", "::1", "10.0.0.3", "2001:db8::1"] },
    });
    // A CIDR range or a host name never equals a peer address: every client would share the proxy's
    // rate limit and ban-guard budget, so one stranger's forged tokens would lock everyone out.
    for (const bad of ["10.0.0.0/8", "proxy.lan", "localhost", "10.0.0.256", "[::1]", "::1:80:x"]) {
      const result = loadNodeServerSettings({ TRUSTED_PROXIES: bad });
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.problems.map((p) => p.key)).toEqual(["TRUSTED_PROXIES"]);
        expect(result.problems[0]!.message).toContain(bad);
      }
    }
  });
  test("DATA_DIR: unset = memory only; a path is kept as given", () => {
    expect(loadNodeServerSettings({})).toMatchObject({ ok: true, server: { dataDir: undefined } });
    expect(loadNodeServerSettings({ DATA_DIR: "/var/lib/jwt-cookie" })).toMatchObject({ ok: true, server: { dataDir: "/var/lib/jwt-cookie" } });
  });
});

describe("LOCAL_ONLY_CHECK", () => {
  test("on unless turned off; anything but a boolean names the key", () => {
    const on = loadSettings(base);
    expect(on.ok && on.settings.localOnlyCheck).toBe(true);
    const off = loadSettings({ ...base, LOCAL_ONLY_CHECK: "off" });
    expect(off.ok && off.settings.localOnlyCheck).toBe(false);
    expect(problemsOf({ ...base, LOCAL_ONLY_CHECK: "sometimes" }).map((p) => p.key)).toEqual(["LOCAL_ONLY_CHECK"]);
  });
});
