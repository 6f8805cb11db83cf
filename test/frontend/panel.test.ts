/**
 * <jwt-cookie-panel> mounted the way Home Assistant's panel_custom mounts it, with a real
 * home-assistant-js-websocket Auth talking to the Home Assistant double, the real signer in
 * workerd, and Chromium resolving ha./auth./grafana.example.test to loopback.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, jwtPayload, screenshot, startFrontendStack, type FrontendStack, type HostConfig } from "../support/frontend-stack.js";

let stack: FrontendStack;

beforeAll(async () => {
  stack = await startFrontendStack();
});

afterAll(async () => {
  await stack?.close();
});

async function panelHost(options: { dark?: boolean; narrow?: boolean; services?: unknown[] } = {}): Promise<HostConfig> {
  return {
    auth: await stack.authData(),
    dark: options.dark,
    panel: {
      module_url: BUNDLE_PATH,
      narrow: options.narrow,
      config: {
        signer_url: stack.signerUrl,
        services: options.services ?? [
          { name: "Grafana", url: stack.serviceUrl, icon: "mdi:chart-line" },
          { name: "Zigbee2MQTT", url: "http://z2m.example.test/", icon: "mdi:zigbee", open: "panel" },
          { name: "Node-RED", url: "http://nodered.example.test/", icon: "mdi:sitemap" },
        ],
      },
    },
  };
}

async function ourCookie() {
  return (await stack.context.cookies(stack.signerUrl)).find((c) => c.name === "jwt_access_token");
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Signed in, and the diagnostics that ran after it have finished. */
async function signedIn(page: Page): Promise<void> {
  await page.locator('jwt-cookie-panel .pill[data-phase="signed_in"]').waitFor();
  await page.locator('jwt-cookie-panel li[data-check="cookie"][data-level="ok"]').waitFor();
}

describe("the panel, mounted like panel_custom", () => {
  it("signs in, shows the user, the expiry and the claims, and sets the cookie with the configured attributes", async () => {
    const page = await stack.openHost(await panelHost(), { path: "/jwt-cookie" });
    await signedIn(page);
    const panel = page.locator("jwt-cookie-panel");

    const cookie = await ourCookie();
    expect(cookie).toMatchObject({ domain: ".example.test", path: "/", httpOnly: true, secure: false, sameSite: "Lax" });
    const now = Date.now() / 1000;
    expect(cookie!.expires).toBeGreaterThan(now + 1800 - 30);
    expect(cookie!.expires).toBeLessThan(now + 1800 + 30);
    // HttpOnly: invisible to scripts on every host it covers.
    expect(await page.evaluate(() => document.cookie)).not.toContain("jwt_access_token");
    // ... and sent to the services under COOKIE_DOMAIN.
    const service = await stack.context.newPage();
    await service.goto(stack.serviceUrl);
    expect(JSON.parse((await service.textContent("body")) ?? "{}").cookie).toContain(`jwt_access_token=${cookie!.value}`);
    await service.close();
    expect(jwtPayload(cookie!.value)).toMatchObject({ sub: stack.user.id, name: "Paulus Schoutsen", roles: ["user", "admin"] });

    await expect.poll(() => panel.locator(".who b").textContent()).toBe("Paulus Schoutsen");
    const validUntil = await panel.locator('[data-fact="expires"] dd').textContent();
    expect(validUntil).toMatch(/\d{1,2}:\d{2}/);
    expect(await panel.locator('[data-fact="left"] dd').textContent()).toMatch(/^(29|30):\d{2}$/);
    expect(await panel.locator('[data-fact="cookie"] dd').textContent()).toBe("jwt_access_token on .example.test");
    const claims = JSON.parse((await panel.locator("pre.claims").textContent()) ?? "{}");
    expect(claims).toEqual({ sub: stack.user.id, name: "Paulus Schoutsen", roles: ["user", "admin"] });

    const levels = Object.fromEntries(
      await panel.locator("li[data-check]").evaluateAll((items) => items.map((li) => [li.getAttribute("data-check"), li.getAttribute("data-level")])),
    );
    expect(levels).toMatchObject({
      signer: "ok",
      cors: "ok",
      cookie: "ok",
      "service:grafana.example.test": "ok",
      "service:z2m.example.test": "ok",
      https: "warn",
      clock: "ok",
    });
    expect(stack.sessionPosts()).toHaveLength(1);
    expect(stack.pageErrors).toEqual([]);
    await screenshot(page, "panel-light");
    await page.close();
  });

  it("follows Home Assistant's dark theme", async () => {
    const page = await stack.openHost(await panelHost({ dark: true }), { path: "/jwt-cookie" });
    await signedIn(page);
    const colors = await page.locator("jwt-cookie-panel section.session").evaluate((card) => {
      const style = getComputedStyle(card);
      return { background: style.backgroundColor, text: style.color };
    });
    expect(colors).toEqual({ background: "rgb(28, 28, 28)", text: "rgb(225, 225, 225)" });
    await screenshot(page, "panel-dark");
    await page.close();
  });

  it("renders the narrow (mobile) layout with a menu button that toggles Home Assistant's sidebar", async () => {
    const page = await stack.openHost(await panelHost({ narrow: true }), { path: "/jwt-cookie", viewport: { width: 390, height: 844 } });
    await signedIn(page);
    const panel = page.locator("jwt-cookie-panel");
    expect(await panel.getAttribute("narrow")).not.toBeNull();
    // Nothing wider than the phone; services in one column.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const rights = await panel.locator(".tile, section, .actions button").evaluateAll((items) => items.map((e) => e.getBoundingClientRect().right));
    expect(Math.max(...rights)).toBeLessThanOrEqual(390);
    const columns = await panel.locator(".grid").evaluate((grid) => getComputedStyle(grid).gridTemplateColumns.split(" ").length);
    expect(columns).toBe(1);
    await screenshot(page, "panel-narrow");
    await panel.locator("button.menu").click();
    expect(await page.evaluate(() => (window as unknown as { __menuToggles: number }).__menuToggles)).toBe(1);
    await page.close();
  });

  it("Renew now refreshes an expired Home Assistant token before sending it", async () => {
    const page = await stack.openHost(await panelHost(), { path: "/jwt-cookie" });
    await signedIn(page);
    const posts = stack.sessionPosts().length;
    const tokenRequests = stack.double.stats.tokenRequests;
    // The WebSocket stays open after the access token expires: hass.auth now holds an expired one.
    const now = Math.floor(Date.now() / 1000);
    const expired = stack.double.accessToken(stack.user.id, { issuedAt: now - 3600, ttlSeconds: 1800 });
    await page.evaluate((token) => {
      const auth = (window as unknown as { __auth: { data: { access_token: string; expires: number } } }).__auth;
      auth.data.access_token = token;
      auth.data.expires = Date.now() - 60_000;
    }, expired);

    await page.locator("jwt-cookie-panel button.renew").click();
    await expect.poll(() => stack.sessionPosts().length).toBe(posts + 1);
    const sent = stack.sessionPosts().at(-1)!;
    expect((await sent.request.response())?.status()).toBe(200);
    const token = sent.authorization!.replace(/^Bearer /, "");
    expect(token).not.toBe(expired);
    expect(jwtPayload(token).exp as number).toBeGreaterThan(Date.now() / 1000 + 1700);
    expect(stack.double.stats.tokenRequests).toBe(tokenRequests + 1);
    expect(stack.double.stats.failedLogins()).toBe(0);
    await page.locator('jwt-cookie-panel .pill[data-phase="signed_in"]').waitFor();
    await page.close();
  });

  it('"Sign out of services" clears the cookie, says why, and "Sign in to services" sets it again', async () => {
    const page = await stack.openHost(await panelHost(), { path: "/jwt-cookie" });
    await signedIn(page);
    expect(await ourCookie()).toBeDefined();
    const panel = page.locator("jwt-cookie-panel");

    await panel.locator("button.sign-out").click();
    await panel.locator('.pill[data-phase="signed_out"]').waitFor();
    await expect.poll(ourCookie).toBeUndefined();
    expect(await panel.locator(".alert").getAttribute("data-why")).toBe("user");
    expect(await panel.locator(".alert").textContent()).toContain("You signed out of your services.");
    const status = await page.evaluate((url) => fetch(`${url}/session`, { credentials: "include" }).then((r) => r.json()), stack.signerUrl);
    expect(status).toMatchObject({ present: false, valid: false });

    await panel.locator("button.renew").click();
    await panel.locator('.pill[data-phase="signed_in"]').waitFor();
    expect(await ourCookie()).toBeDefined();
    await page.close();
  });

  it("diagnostics that were running when the session changed run again: no stale rows after a sign-out", async () => {
    const page = await stack.openHost(await panelHost(), { path: "/jwt-cookie" });
    await signedIn(page);
    const panel = page.locator("jwt-cookie-panel");
    const service = panel.locator('li[data-check="service:grafana.example.test"]');
    expect(await service.getAttribute("data-level")).toBe("ok");
    // The signer answers GET /session slowly (as over a slow network): a check takes a while.
    await stack.context.route(`${stack.signerUrl}/session`, async (route) => {
      if (route.request().method() === "GET") await settle(1_500);
      await route.fallback();
    });
    await panel.locator("button.run-checks").click();
    await panel.locator("button.run-checks[disabled]").waitFor();
    // Signed out while that check is under way.
    await panel.locator("button.sign-out").click();
    await panel.locator('.pill[data-phase="signed_out"]').waitFor();
    await panel.locator("button.run-checks:not([disabled])").waitFor();
    // The diagnostics describe the signed-out state, not the session before it.
    await expect.poll(() => service.getAttribute("data-level"), { timeout: 5_000 }).toBe("skip");
    expect(await service.textContent()).toContain("not signed in");
    expect(await panel.locator('li[data-check="cookie"]').getAttribute("data-level")).not.toBe("ok");
    expect(await panel.locator("pre.claims").count()).toBe(0);
    await page.close();
  });

  it("diagnostics name a service the cookie cannot reach and what to change", async () => {
    const services = [
      { name: "Grafana", url: stack.serviceUrl },
      { name: "NAS", url: "https://nas.example.net/" },
    ];
    const page = await stack.openHost(await panelHost({ services }), { path: "/jwt-cookie" });
    await signedIn(page);
    const row = page.locator('jwt-cookie-panel li[data-check="service:nas.example.net"]');
    expect(await row.getAttribute("data-level")).toBe("fail");
    expect(await row.textContent()).toContain("nas.example.net is outside .example.test");
    expect(await row.textContent()).toContain("COOKIE_DOMAIN=.example.net");
    expect(await page.locator('jwt-cookie-panel li[data-check="https"]').textContent()).toContain("plain http");
    await page.close();
  });

  it("remembers signer_url, so a copy loaded as a dashboard resource (no ?signer=) signs in on every page", async () => {
    const page = await stack.openHost(await panelHost(), { path: "/jwt-cookie" });
    await signedIn(page);
    await stack.context.clearCookies();
    const posts = stack.sessionPosts().length;
    await page.addInitScript((host) => ((window as unknown as { __host: unknown }).__host = host), {
      auth: await stack.authData(),
      extraModules: [`${BUNDLE_PATH}?hacstag=1234567`],
    });
    await page.goto(`${stack.haUrl}/`);
    await expect.poll(ourCookie).toBeDefined();
    expect(stack.sessionPosts().length).toBe(posts + 1);
    expect(stack.consoleLines).toEqual([]);
    await page.close();
  });
});
