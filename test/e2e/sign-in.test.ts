/**
 * The whole sign-in in Debian's Chromium (headless, playwright-core, no downloaded browser):
 * a protected URL behind the real Caddy -> the signer's /login (workerd) -> the Home
 * Assistant double's authorize page (username, password, "Log in") -> back to the protected
 * URL, served with the right Remote-User. Then single sign-on: another host needs no
 * password, even after the cookie is gone and Home Assistant's access token has expired;
 * then sign-out ends it all. *.example.test resolves to 127.0.0.1 inside the browser only.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caddySite } from "../proxies/support/generated.js";
import { freePort } from "../proxies/support/processes.js";
import { launchChromium } from "../support/chromium.js";
import { startCaddy, type RunningProxy } from "../proxies/support/proxies.js";
import type { EchoedRequest } from "../proxies/support/upstream.js";
import { COOKIE_NAME, OPEN_HOST, startWorld, type World } from "../proxies/support/world.js";

const SECOND_HOST = "wiki.example.test";
const TOKENS_KEY = "jwt-cookie:hass-tokens";

describe("sign-in through Caddy, the signer and Home Assistant, in Chromium", () => {
  let world: World;
  let caddy: RunningProxy;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let port: number;
  const url = (host: string, path = "/") => `http://${host}:${port}${path}`;
  const authorizeVisits = () => world.ha.stats.requests.filter((r) => r.path.startsWith("/auth/authorize")).length;

  async function upstreamSaw(): Promise<EchoedRequest> {
    return JSON.parse((await page.locator("body").innerText()).trim()) as EchoedRequest;
  }

  beforeAll(async () => {
    world = await startWorld("workerd");
    port = await freePort();
    const sites = [OPEN_HOST, SECOND_HOST].map((host) => caddySite(world.env, host, world.upstream.url, world.signer.url, port));
    caddy = await startCaddy(sites, [port]);
    browser = await launchChromium(["--host-resolver-rules=MAP *.example.test 127.0.0.1"]);
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await caddy?.stop();
    await world?.close();
  });

  it("goes from the protected URL through Home Assistant's login and back, served with the right identity", async () => {
    const target = url(OPEN_HOST, "/d/home?orgId=1&refresh=30s");
    await page.goto(target);
    await page.waitForURL((u) => u.href.startsWith(`${world.ha.url}/auth/authorize`));
    const authorize = new URL(page.url());
    expect(authorize.searchParams.get("client_id")).toBe(`${world.publicUrl}/`);
    expect(authorize.searchParams.get("redirect_uri")).toMatch(new RegExp(`^${world.publicUrl}/login\\?rd=`));

    await page.fill("#username", "bob");
    await page.fill("#password", "bob-password");
    await page.getByRole("button", { name: "Log in" }).click();

    await page.waitForURL(target);
    const seen = await upstreamSaw();
    expect(seen.url).toBe("/d/home?orgId=1&refresh=30s");
    expect(seen.headers["remote-user"]).toBe(world.user.id);
    expect(seen.headers["remote-groups"]).toBe("user");
    const cookie = (await context.cookies(url(OPEN_HOST))).find((c) => c.name === COOKIE_NAME);
    expect(cookie).toMatchObject({ domain: ".example.test", httpOnly: true });
  });

  it("lets the same browser into a second host without asking for a password", async () => {
    const before = authorizeVisits();
    await page.goto(url(SECOND_HOST, "/wiki/Start"));
    expect((await upstreamSaw()).headers["remote-user"]).toBe(world.user.id);
    expect(authorizeVisits()).toBe(before);
  });

  it("renews silently from the sign-in page's saved tokens when the cookie is gone and the access token expired", async () => {
    const before = authorizeVisits();
    const refreshes = world.ha.stats.tokenRequests;
    await context.clearCookies();
    // Age Home Assistant's access token in the sign-in page's storage so the page must refresh it.
    await page.goto(`${world.publicUrl}/.well-known/jwks.json`);
    await page.evaluate((key) => {
      const data = JSON.parse(localStorage.getItem(key) ?? "null") as { expires: number } | null;
      if (!data) throw new Error("no saved tokens");
      data.expires = Date.now() - 1000;
      localStorage.setItem(key, JSON.stringify(data));
    }, TOKENS_KEY);

    await page.goto(url(SECOND_HOST, "/wiki/Again"));
    await page.waitForURL(url(SECOND_HOST, "/wiki/Again"));
    expect((await upstreamSaw()).headers["remote-user"]).toBe(world.user.id);
    expect(authorizeVisits()).toBe(before); // no password prompt
    expect(world.ha.stats.tokenRequests).toBe(refreshes + 1); // one refresh_token grant
  });

  it("refuses a return address outside the cookie domain and the allow-list", async () => {
    await page.goto(`${world.publicUrl}/login?rd=${encodeURIComponent("https://evil.example.com/")}`);
    await expect.poll(() => page.locator("#error").innerText()).toContain("not one this sign-in may send you back to");
    expect(new URL(page.url()).host).toBe(new URL(world.publicUrl).host);
  });

  it("ignores an authorization code that this browser did not ask for (login CSRF)", async () => {
    const before = world.ha.stats.tokenRequests;
    await page.goto(`${world.publicUrl}/login?auth_callback=1&code=someone-elses&state=x&n=guess`);
    await expect.poll(() => page.locator("#error").innerText()).toContain("not started in this browser tab");
    expect(world.ha.stats.tokenRequests).toBe(before);
  });

  /** A page on another site (served by the browser's request interception) with a link to `href`, clicked. */
  async function followLinkFromAnotherSite(href: string): Promise<void> {
    await context.route("http://attacker.invalid/**", (route) =>
      route.fulfill({ contentType: "text/html", body: `<!doctype html><a id="go" href="${href.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">win a prize</a>` }),
    );
    await page.goto("http://attacker.invalid/");
    await page.click("#go");
    await page.waitForLoadState();
  }
  const currentCookie = async () => (await context.cookies(url(OPEN_HOST))).find((c) => c.name === COOKIE_NAME)?.value;
  const verifies = async (jwt: string) =>
    (await fetch(`${world.signer.url}/verify`, { headers: { Cookie: `${COOKIE_NAME}=${jwt}`, "X-Forwarded-Host": OPEN_HOST } })).status === 200;

  it("a sign-out link on another site only asks; the sign-in page's sign-out from another site does nothing without a click", async () => {
    await page.goto(url(OPEN_HOST, "/before-csrf"));
    const jwt = (await currentCookie())!;
    const revokes = () => world.ha.stats.requests.filter((r) => r.path === "/auth/revoke").length;
    const before = revokes();

    await followLinkFromAnotherSite(`${world.publicUrl}/login?action=logout`);
    await expect.poll(() => page.locator("#status").innerText()).toContain("Nothing has changed yet");
    expect(await page.locator("#actions button").innerText()).toBe("Sign out");
    expect(revokes()).toBe(before);
    expect(await page.evaluate((key) => localStorage.getItem(key), TOKENS_KEY)).not.toBeNull();
    expect(await currentCookie()).toBe(jwt);

    await followLinkFromAnotherSite(`${world.publicUrl}/logout?rd=${encodeURIComponent(url(OPEN_HOST, "/after-confirm"))}`);
    expect(await page.locator("h1").innerText()).toBe("Sign out?");
    expect(await currentCookie()).toBe(jwt);
    expect(await verifies(jwt)).toBe(true);

    // The user's own click: the form's POST (same origin) signs out and returns to rd, where
    // single sign-on (the sign-in page's saved tokens) gives a fresh cookie.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(url(OPEN_HOST, "/after-confirm"));
    expect(await verifies(jwt)).toBe(false);
    expect(await currentCookie()).not.toBe(jwt);
    await context.unroute("http://attacker.invalid/**");
  });

  it("a sign-out link on a protected service (same site) signs out with one click", async () => {
    await page.goto(url(OPEN_HOST, "/before-link"));
    const jwt = (await currentCookie())!;
    await page.evaluate((href) => {
      const a = document.createElement("a");
      a.href = href;
      a.id = "signout";
      a.textContent = "Sign out";
      document.body.append(a);
    }, `${world.publicUrl}/logout?rd=${encodeURIComponent(url(OPEN_HOST, "/after-link"))}`);
    await page.click("#signout");
    await page.waitForURL(url(OPEN_HOST, "/after-link"));
    expect(await verifies(jwt)).toBe(false);
  });

  it("signs out: forgets the tokens, clears the cookie, revokes the refresh token; the next visit asks for the password", async () => {
    const revokes = () => world.ha.stats.requests.filter((r) => r.path === "/auth/revoke").length;
    const before = revokes();
    // Typed into the address bar. Over plain http Chromium sends no Sec-Fetch-Site (only to
    // trustworthy origins) and a typed URL no Referer, so the page asks first: one click.
    await page.goto(`${world.publicUrl}/login?action=logout`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => page.locator("#status").innerText()).toContain("signed out");
    expect(revokes()).toBe(before + 1);
    expect(await page.evaluate((key) => localStorage.getItem(key), TOKENS_KEY)).toBeNull();
    expect((await context.cookies(url(OPEN_HOST))).some((c) => c.name === COOKIE_NAME)).toBe(false);

    await page.goto(url(OPEN_HOST, "/after-logout"));
    await page.waitForURL((u) => u.href.startsWith(`${world.ha.url}/auth/authorize`));
    expect(world.upstream.received.some((r) => r.url === "/after-logout")).toBe(false);
  });
});
