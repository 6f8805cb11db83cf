/**
 * The signer's sign-in page at the HTTP level, in workerd and on Node: the HTML shell with
 * Home Assistant's URL and only a validated return address in it, its CSP and other headers,
 * and /login.js, the rollup bundle of frontend/login/ (committed up to date, served byte
 * for byte). The page's behaviour in a browser: sign-in.test.ts.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundle } from "../../dist/login.embed.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner } from "../support/signer.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const built = () => readFileSync(`${root}/dist/login.js`, "utf8");
const HA = "http://127.0.0.1:8123";

function committed(path: string): string | undefined {
  try {
    execFileSync("git", ["ls-files", "--error-unmatch", path], { cwd: root, stdio: "ignore" });
    return execFileSync("git", ["show", `:${path}`], { cwd: root, maxBuffer: 1 << 24 }).toString();
  } catch {
    return undefined;
  }
}

function pageConfig(html: string): Record<string, unknown> {
  const match = /<script type="application\/json" id="jwt-cookie-login-config">([^<]*)<\/script>/.exec(html);
  if (!match) throw new Error("no config element");
  return JSON.parse(match[1]!) as Record<string, unknown>;
}

describe("dist/login.js", () => {
  it("and dist/login.embed.ts, which the signer serves, carry the same bytes", () => {
    expect(bundle).toBe(built());
    expect(built()).toContain("jwt-cookie:hass-tokens");
  });

  // On a clean clone (CI), global setup has just rebuilt dist/ from the sources: the
  // committed copies must be identical, i.e. current and built deterministically.
  it.skipIf(committed("dist/login.js") === undefined)("is committed up to date (npx rollup -c, then commit dist/)", () => {
    expect(committed("dist/login.js") === built(), "dist/login.js is stale").toBe(true);
    expect(committed("dist/login.embed.ts") === readFileSync(`${root}/dist/login.embed.ts`, "utf8"), "dist/login.embed.ts is stale").toBe(true);
  });
});

describe.each(RUNTIMES)("the signer on %s serves the sign-in page", (runtime) => {
  let signer: RunningSigner;
  beforeAll(async () => {
    signer = await startSigner(runtime, {
      HA_URL: HA,
      SIGNING_KEY: await testSigningKey(),
      COOKIE_DOMAIN: ".example.test",
      COOKIE_SECURE: "false",
      REDIRECT_ALLOWLIST: "nas.example.net",
    });
  });
  afterAll(async () => {
    await signer?.close();
  });

  const login = (query: string) => fetch(`${signer.url}/login${query}`);

  it("renders Home Assistant's URL and the validated rd, with a strict CSP", async () => {
    const rd = "https://grafana.example.test/d/x?a=1&b=</script><script>alert(1)</script>";
    const response = await login(`?rd=${encodeURIComponent(rd)}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(response.headers.get("content-security-policy")).toBe(
      `default-src 'none'; script-src 'self'; connect-src 'self' ${HA} ws://127.0.0.1:8123; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    );
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const html = await response.text();
    expect(html.match(/<script/g)).toHaveLength(2); // the config and /login.js: nothing injected
    const config = pageConfig(html);
    expect(config).toMatchObject({ haUrl: HA, action: "login", rd: new URL(rd).href, rdRejected: false });
    expect(config.policy).toEqual({ cookie: { domain: ".example.test" }, haUrl: HA, redirectAllowlist: ["nas.example.net"] });
    expect(html).toContain('<script type="module" src="/login.js"></script>');
  });

  it.each([
    "https://evil.example.com/",
    "https://grafana.example.test.evil.com/",
    "javascript:alert(1)",
    "//evil.example.com/",
    "https://user:pw@grafana.example.test/",
  ])("hands the page no return address for rd=%s", async (rd) => {
    const config = pageConfig(await (await login(`?rd=${encodeURIComponent(rd)}`)).text());
    expect(config).toMatchObject({ rd: null, rdRejected: true });
  });

  it("accepts REDIRECT_ALLOWLIST hosts, and no rd at all", async () => {
    expect(pageConfig(await (await login(`?rd=${encodeURIComponent("https://nas.example.net/x")}`)).text())).toMatchObject({ rd: "https://nas.example.net/x" });
    expect(pageConfig(await (await login("")).text())).toMatchObject({ rd: null, rdRejected: false, action: "login" });
    const logout = (headers: Record<string, string>) => fetch(`${signer.url}/login?action=logout`, { headers });
    expect(pageConfig(await (await logout({ "Sec-Fetch-Site": "same-origin" })).text())).toMatchObject({ action: "logout" });
  });

  it("signs out at once only on the user's own navigation; another site's link gets the page asking first", async () => {
    const logout = (headers: Record<string, string>) => fetch(`${signer.url}/login?action=logout`, { headers });
    for (const site of ["none", "same-origin", "same-site"]) {
      expect(pageConfig(await (await logout({ "Sec-Fetch-Site": site })).text()), site).toMatchObject({ action: "logout" });
    }
    expect(pageConfig(await (await logout({ "Sec-Fetch-Site": "cross-site" })).text())).toMatchObject({ action: "confirm-logout" });
    // Without fetch metadata (older browsers, scripts) only a Referer from the signer or the cookie domain counts.
    expect(pageConfig(await (await logout({})).text())).toMatchObject({ action: "confirm-logout" });
    expect(pageConfig(await (await logout({ Referer: "https://evil.example.com.attacker.test/" })).text())).toMatchObject({ action: "confirm-logout" });
    expect(pageConfig(await (await logout({ Referer: `${signer.url}/login` })).text())).toMatchObject({ action: "logout" });
    expect(pageConfig(await (await logout({ Referer: "https://grafana.example.test/settings" })).text())).toMatchObject({ action: "logout" });
  });

  it("serves /login.js byte for byte as built, with an ETag", async () => {
    const response = await fetch(`${signer.url}/login.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await response.text()).toBe(built());
    const etag = response.headers.get("etag")!;
    expect((await fetch(`${signer.url}/login.js`, { headers: { "If-None-Match": etag } })).status).toBe(304);
  });
});
