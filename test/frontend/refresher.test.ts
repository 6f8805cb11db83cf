/**
 * The background refresher with no panel: the module loaded as Home Assistant loads
 * `frontend: extra_module_url` (import() from the page, or the older
 * <script type=module crossorigin=use-credentials>), straight from the signer or from
 * /hacsfiles/, against the real signer in workerd (TOKEN_TTL=60) and the Home Assistant double.
 */
import type { Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, jwtPayload, startFrontendStack, type FrontendStack } from "../support/frontend-stack.js";

let stack: FrontendStack;

beforeAll(async () => {
  stack = await startFrontendStack({ signerEnv: { TOKEN_TTL: "60" } });
});

afterAll(async () => {
  await stack?.close();
});

async function ourCookie() {
  return (await stack.context.cookies(stack.signerUrl)).find((c) => c.name === "jwt_access_token");
}

/** Lets the page's real network settle between fake-clock jumps. */
const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the background module (extra_module_url)", () => {
  it("served by the signer at /jwt-cookie.js, it signs in with no other setting and keeps quiet", async () => {
    const before = stack.sessionPosts().length;
    let bundle: Promise<Response> | undefined;
    const page = await stack.openHost(
      { auth: await stack.authData(), extraModules: [`${stack.signerUrl}/jwt-cookie.js`] },
      { setup: async (p) => void (bundle = p.waitForResponse(`${stack.signerUrl}/jwt-cookie.js`)) },
    );
    expect((await bundle!).headers()["access-control-allow-origin"]).toBe(stack.haUrl);
    await expect.poll(ourCookie).toBeDefined();

    const cookie = (await ourCookie())!;
    expect(cookie).toMatchObject({ domain: ".example.test", path: "/", httpOnly: true, secure: false, sameSite: "Lax" });
    expect(cookie.expires - Date.now() / 1000).toBeGreaterThan(50);
    expect(cookie.expires - Date.now() / 1000).toBeLessThanOrEqual(61);
    expect(await page.evaluate(() => document.cookie)).not.toContain("jwt_access_token");
    expect(jwtPayload(cookie.value)).toMatchObject({ sub: stack.user.id, roles: ["user", "admin"] });
    expect(await page.evaluate(() => customElements.get("jwt-cookie-panel") !== undefined)).toBe(true);

    await settle(1500);
    expect(stack.sessionPosts().length - before).toBe(1);
    expect(stack.consoleLines).toEqual([]);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });

  it("loaded three ways at once (extra_module_url, from the signer, as a dashboard resource) defines the panel once and refreshes once", async () => {
    const before = stack.sessionPosts().length;
    const page = await stack.openHost({
      auth: await stack.authData(),
      extraModules: [
        `${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`,
        { url: `${stack.signerUrl}/jwt-cookie.js` },
        `${BUNDLE_PATH}?hacstag=1234567`,
      ],
    });
    await expect.poll(ourCookie).toBeDefined();
    await settle(2500);
    expect(stack.sessionPosts().length - before).toBe(1);
    // Three module instances ran (different URLs), and none of them threw.
    const loaded = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.includes("jwt-cookie.js")).length);
    expect(loaded).toBe(3);
    expect(stack.pageErrors).toEqual([]);
    expect(stack.consoleLines).toEqual([]);
    await page.close();
  });

  it("renews before the cookie expires, and refreshes an expired Home Assistant token before sending it", async () => {
    const page = await stack.openHost({ auth: await stack.authData(), extraModules: [`${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`] }, { clock: true });
    await expect.poll(() => page.evaluate(() => (globalThis as Record<symbol, { refresher: { state: { phase: string } } }>)[Symbol.for("jwt-cookie.v1")]?.refresher.state.phase)).toBe("signed_in");
    const posts = stack.sessionPosts().length;
    const first = (await ourCookie())!.value;

    // TOKEN_TTL=60: no renewal in the first 60 % of the lifetime ...
    await page.clock.fastForward(38_000);
    await settle();
    expect(stack.sessionPosts().length).toBe(posts);

    // ... meanwhile Home Assistant's access token expired (the WebSocket stays open).
    const now = Math.floor(Date.now() / 1000);
    const expired = stack.double.accessToken(stack.user.id, { issuedAt: now - 3600, ttlSeconds: 1800 });
    await page.evaluate((token) => {
      const auth = (window as unknown as { __auth: { data: { access_token: string; expires: number } } }).__auth;
      auth.data.access_token = token;
      auth.data.expires = Date.now() - 1000;
    }, expired);
    const tokenRequests = stack.double.stats.tokenRequests;

    // ... and by 80 % it has renewed, with a freshly refreshed token, before the cookie expired.
    await page.clock.fastForward(11_000);
    await expect.poll(() => stack.sessionPosts().length).toBe(posts + 1);
    const sent = stack.sessionPosts().at(-1)!;
    expect((await sent.request.response())?.status()).toBe(200);
    const token = sent.authorization!.replace(/^Bearer /, "");
    expect(token).not.toBe(expired);
    expect(jwtPayload(token).exp as number).toBeGreaterThan(Date.now() / 1000);
    expect(stack.double.stats.tokenRequests).toBe(tokenRequests + 1);
    expect(stack.double.stats.failedLogins()).toBe(0);
    await expect.poll(async () => (await ourCookie())?.value).not.toBe(first);
    await page.close();
  });

  it("renews once for all open tabs, and a sign-out in one tab stops renewals in every tab", async () => {
    const host = { auth: await stack.authData(), extraModules: [`${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`] };
    const first = await stack.openHost(host, { clock: true });
    const second = await stack.context.newPage();
    await second.addInitScript((value) => ((window as unknown as { __host: unknown }).__host = value), host);
    await second.goto(`${stack.haUrl}/`);
    const phase = (page: Page) =>
      page.evaluate(() => (globalThis as Record<symbol, { refresher: { state: { phase: string } } }>)[Symbol.for("jwt-cookie.v1")]?.refresher.state.phase);
    await expect.poll(() => phase(first)).toBe("signed_in");
    await expect.poll(() => phase(second)).toBe("signed_in");
    await settle();
    const posts = stack.sessionPosts().length;

    // Both tabs' timers come due together (the clock is the whole profile's): one renewal.
    await stack.context.clock.fastForward(50_000);
    await expect.poll(() => stack.sessionPosts().length).toBe(posts + 1);
    await settle(1000);
    expect(await first.evaluate(() => typeof navigator.locks?.request)).toBe("function");
    expect(stack.sessionPosts().length).toBe(posts + 1);
    expect(await phase(first)).toBe("signed_in");
    expect(await phase(second)).toBe("signed_in");

    await first.evaluate(() =>
      (globalThis as Record<symbol, { refresher: { signOut(reason: string): Promise<void> } }>)[Symbol.for("jwt-cookie.v1")]!.refresher.signOut("user"),
    );
    await expect.poll(() => phase(second)).toBe("signed_out");
    await expect.poll(ourCookie).toBeUndefined();
    await stack.context.clock.fastForward(120_000);
    await settle(500);
    expect(stack.sessionPosts().length).toBe(posts + 1);
    await first.close();
    await second.close();
  });

  it("when Home Assistant has revoked the session, open tabs whose renewals come due together try it once, not once each", async () => {
    const auth = await stack.authData();
    const host = { auth, extraModules: [`${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`] };
    // Busy tabs (a heavy dashboard) run a BroadcastChannel message some 50 ms after it arrives.
    const busy = async (page: Page) =>
      void (await page.addInitScript(() => {
        const Native = BroadcastChannel;
        window.BroadcastChannel = class extends Native {
          override set onmessage(handler: ((event: MessageEvent) => void) | null) {
            super.onmessage = handler && ((event: MessageEvent) => void setTimeout(() => handler.call(this, event), 50));
          }
        };
      }));
    const tabs = [await stack.openHost(host, { clock: true, setup: busy })];
    for (let i = 0; i < 2; i++) {
      const tab = await stack.context.newPage();
      await busy(tab);
      await tab.addInitScript((value) => ((window as unknown as { __host: unknown }).__host = value), host);
      await tab.goto(`${stack.haUrl}/`);
      tabs.push(tab);
    }
    const phase = (page: Page) =>
      page.evaluate(() => (globalThis as Record<symbol, { refresher: { state: { phase: string } } }>)[Symbol.for("jwt-cookie.v1")]?.refresher.state.phase);
    for (const tab of tabs) await expect.poll(() => phase(tab)).toBe("signed_in");
    await settle(500);
    const before = stack.double.stats.failedLoginEvents.length;
    stack.double.revokeRefreshToken(auth.refresh_token);

    // Every tab's renewal comes due in the same instant (one clock for the profile): one tab asks
    // Home Assistant, is refused, and tells the others, which are waiting for the lock.
    await stack.context.clock.fastForward(50_000);
    for (const tab of tabs) await expect.poll(() => phase(tab)).toBe("signed_out");
    await settle(1_000);
    // Each refresh Home Assistant refuses is a failed login there: one, not one per tab. (The host
    // pages' own WebSockets, closed with the session, fail to reconnect too: Home Assistant's doing.)
    const refused = stack.double.stats.failedLoginEvents.slice(before).filter((e) => e.reason.startsWith("token:"));
    expect(refused.map((e) => e.reason)).toEqual(["token: invalid_grant"]);
    for (const tab of tabs) await tab.close();
  });
});
