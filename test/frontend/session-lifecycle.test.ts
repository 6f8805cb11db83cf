/**
 * Issue 6, frontend side: the cookie follows the Home Assistant session. Home Assistant's own
 * logout (the hass-logout event, and the apps' revokeExternalAuth bridge call) clears it before
 * the page goes away; access Home Assistant no longer renews (refresh token revoked, user
 * deactivated, a fresh token the signer refuses) clears it at the next renewal and the panel
 * says why; transient failures do not; after a user switch /verify only ever sees the new user.
 * Each time a copy of the cookie taken before is refused by /verify afterwards (the signer's
 * deny-list; the real signer in workerd with its KV namespace).
 */
import type { Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, jwtPayload, startFrontendStack, type FrontendStack, type HostConfig } from "../support/frontend-stack.js";

let stack: FrontendStack;
let background: string;

beforeAll(async () => {
  stack = await startFrontendStack({ signerEnv: { TOKEN_TTL: "60" } });
  background = `${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`;
});

afterAll(async () => {
  await stack?.close();
});

interface RefresherView {
  phase: string;
  signedOut?: { reason: string; message?: string };
}

const refresherState = (page: Page) =>
  page.evaluate(() => {
    const state = (globalThis as Record<symbol, { refresher: { state: RefresherView } } | undefined>)[Symbol.for("jwt-cookie.v1")]?.refresher.state;
    return state && { phase: state.phase, signedOut: state.signedOut };
  });

async function ourCookie(): Promise<string | undefined> {
  return (await stack.context.cookies(stack.signerUrl)).find((c) => c.name === "jwt_access_token")?.value;
}

/** Signed in, and the cookie that the browser now holds. */
async function signedIn(page: Page): Promise<string> {
  await expect.poll(async () => (await refresherState(page))?.phase).toBe("signed_in");
  await expect.poll(ourCookie).toBeDefined();
  return (await ourCookie())!;
}

/** What a proxy asking /verify learns from this cookie: the Remote-User, or the status. */
async function verify(cookie: string): Promise<string | number> {
  const response = await fetch(`${stack.signer!.url}/verify`, { headers: { Cookie: `jwt_access_token=${cookie}` } });
  return response.status === 200 ? response.headers.get("remote-user")! : response.status;
}

const signerRequests = (since: number, path: string) => stack.signerCalls.slice(since).filter((c) => c.path === path);
const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Home Assistant's logout clears the cookie", () => {
  it("hass-logout fired from inside <home-assistant>, then the page goes at once: cookie gone, copy refused, Home Assistant's own logout untouched", async () => {
    const page = await stack.openHost({ auth: await stack.authData(), extraModules: [background] });
    const copy = await signedIn(page);
    expect(await verify(copy)).toBe(stack.user.id);
    const since = stack.signerCalls.length;
    const sessionPosts = stack.sessionPosts().length;

    // A signer 300 ms away (as over the Internet): the page is long gone when its answer arrives.
    // (A plain fetch is cancelled with the page and the cookie stays; keepalive survives it.)
    await stack.context.route(`${stack.signerUrl}/logout`, async (route) => {
      await settle(300);
      await route.continue();
    });
    // The sidebar's "Log out", inside <home-assistant>'s shadow root: a composed, bubbling event;
    // then the page goes at once, in the same task, before the signer (or Home Assistant) answers.
    const seen = await page.evaluate((away) => {
      let bubbled: boolean | undefined;
      addEventListener("hass-logout", (event) => (bubbled = !event.defaultPrevented), { once: true });
      (document.querySelector("home-assistant")!.shadowRoot!.getElementById("logout") as HTMLButtonElement).click();
      location.href = away;
      return { bubbled, home: (window as unknown as { __haLogouts: unknown[] }).__haLogouts };
    }, stack.serviceUrl);
    // Gone: to the service, or to /logged-out if Home Assistant's own reload overtook ours.
    await expect.poll(() => page.url()).not.toBe(`${stack.haUrl}/`);

    // Home Assistant's handler got the event, uncancelled, and it reached window too.
    expect(seen).toEqual({ bubbled: true, home: [{ defaultPrevented: false }] });
    await expect.poll(ourCookie).toBeUndefined();
    expect(await verify(copy)).toBe(401);
    expect(signerRequests(since, "/logout").map((c) => c.method)).toEqual(["POST"]);
    expect(stack.sessionPosts().length).toBe(sessionPosts);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });

  it("a renewal under way when Home Assistant logs out cannot bring the cookie back", async () => {
    const page = await stack.openHost({ auth: await stack.authData(), extraModules: [background] });
    await signedIn(page);
    // Home Assistant's own logout fails here (its revoke does not get through), so the page stays to watch.
    await page.route("**/auth/revoke", (route) => route.abort());
    // A renewal whose POST /session is held on its way to the signer.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await stack.context.route(`${stack.signerUrl}/session`, async (route) => {
      if (route.request().method() === "POST") await held;
      await route.fallback();
    });
    const since = stack.signerCalls.length;
    const renewal = page
      .evaluate(() => (globalThis as Record<symbol, { refresher: { renew(): Promise<void> } }>)[Symbol.for("jwt-cookie.v1")]!.refresher.renew())
      .catch(() => undefined);
    await expect.poll(() => signerRequests(since, "/session").filter((c) => c.method === "POST").length).toBe(1);

    await page.evaluate(() => (document.querySelector("home-assistant")!.shadowRoot!.getElementById("logout") as HTMLButtonElement).click());
    await expect.poll(ourCookie).toBeUndefined();
    // The held renewal arrives after the logout and sets a cookie: it is cleared (and revoked) at once.
    const late = page.waitForResponse((r) => r.url().endsWith("/session") && r.request().method() === "POST");
    release();
    const reissued = /jwt_access_token=([^;]+)/.exec((await (await late).headerValue("set-cookie")) ?? "")?.[1];
    expect(reissued).toBeDefined();
    await expect.poll(() => signerRequests(since, "/logout").length).toBe(2);
    await expect.poll(ourCookie).toBeUndefined();
    expect(await verify(reissued!)).toBe(401);
    expect(await refresherState(page)).toMatchObject({ phase: "signed_out", signedOut: { reason: "ha_logout" } });
    expect(await page.evaluate(() => (window as unknown as { __haLogoutError?: string }).__haLogoutError)).toBeDefined();
    await renewal;
    await page.close();
  });

  describe.each(["android", "android-v2", "ios"] as const)("in the %s app", (platform) => {
    it("the bridge's revokeExternalAuth clears the cookie, and the app receives exactly what Home Assistant sent", async () => {
      const page = await stack.openHost(
        { mode: platform, extraModules: [background] },
        {
          setup: async (p) =>
            void (await p.exposeFunction("__nativeToken", () => ({ access_token: stack.double.accessToken(stack.user.id), expires_in: 1800 }))),
        },
      );
      const copy = await signedIn(page);
      // The app's other bridge methods still work once revokeExternalAuth is observed.
      await page.evaluate(() => (window as unknown as { __auth: { refreshAccessToken(): Promise<void> } }).__auth.refreshAccessToken());
      expect(await page.evaluate(() => (window as unknown as { __bridgeCalls: unknown[] }).__bridgeCalls.length)).toBe(2);
      // Asking for a token (V2: the same postMessage as the revoke) is not a logout.
      expect(await ourCookie()).toBeDefined();
      expect(await refresherState(page)).toMatchObject({ phase: "signed_in" });

      // Home Assistant's ExternalAuth.revoke(), called on its own (not through hass-logout).
      await page.evaluate(() => (window as unknown as { __auth: { revoke(): Promise<void> } }).__auth.revoke());
      const payload = { callback: "externalAuthRevokeToken" };
      expect(await page.evaluate(() => (window as unknown as { __revokeCalls: unknown[] }).__revokeCalls)).toEqual([
        platform === "android" ? JSON.stringify(payload) : platform === "android-v2" ? JSON.stringify({ type: "revokeExternalAuth", payload }) : payload,
      ]);
      await expect.poll(ourCookie).toBeUndefined();
      expect(await verify(copy)).toBe(401);
      expect(await refresherState(page)).toMatchObject({ phase: "signed_out", signedOut: { reason: "ha_logout" } });
      expect(stack.pageErrors).toEqual([]);
      await page.close();
    });
  });
});

describe("access that can no longer be renewed ends the cookie", () => {
  async function panelHost(auth: HostConfig["auth"]): Promise<HostConfig> {
    return { auth, panel: { module_url: BUNDLE_PATH, config: { signer_url: stack.signerUrl } } };
  }

  it.each([
    ["the refresh token is revoked (400 invalid_grant)", "revoke"],
    ["the user is deactivated (403 access_denied)", "deactivate"],
  ] as const)("%s: at the next renewal the cookie is cleared and the panel says why", async (_label, how) => {
    const user = how === "deactivate" ? stack.double.addUser({ name: "Carol", username: "carol" }) : stack.user;
    const auth = await stack.authData({ user });
    const page = await stack.openHost(await panelHost(auth), { path: "/jwt-cookie", clock: true });
    const panel = page.locator("jwt-cookie-panel");
    await panel.locator('.pill[data-phase="signed_in"]').waitFor();
    const copy = (await ourCookie())!;
    const posts = stack.sessionPosts().length;
    if (how === "revoke") stack.double.revokeRefreshToken(auth.refresh_token);
    else stack.double.setUserActive(user.id, false);

    // TOKEN_TTL=60: the renewal comes at 42-48 s; Home Assistant refuses the refresh.
    await page.clock.fastForward(50_000);
    const alert = panel.locator('.alert[data-why="revoked"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Home Assistant ended your session (revoked, or your user deactivated).");
    expect(await panel.locator(".pill").getAttribute("data-phase")).toBe("signed_out");
    await expect.poll(ourCookie).toBeUndefined();
    expect(await verify(copy)).toBe(401);
    // Nothing went to the signer (nor on to Home Assistant from it), and nothing renews any more.
    expect(stack.sessionPosts().length).toBe(posts);
    await page.clock.fastForward(120_000);
    await settle();
    expect(stack.sessionPosts().length).toBe(posts);
    await page.close();
  });

  it("a fresh token the signer refuses (401 token_rejected) ends the cookie too, after one try", async () => {
    // The app keeps handing out tokens of a user Home Assistant has since deactivated.
    const dave = stack.double.addUser({ name: "Dave", username: "dave" });
    const page = await stack.openHost(
      { mode: "android", panel: { module_url: BUNDLE_PATH, config: { signer_url: stack.signerUrl } } },
      {
        path: "/jwt-cookie",
        clock: true,
        setup: async (p) => void (await p.exposeFunction("__nativeToken", () => ({ access_token: stack.double.accessToken(dave.id), expires_in: 1800 }))),
      },
    );
    // The host connects as Dave too (its user), so the WebSocket is Dave's.
    const panel = page.locator("jwt-cookie-panel");
    await panel.locator('.pill[data-phase="signed_in"]').waitFor();
    const copy = (await ourCookie())!;
    stack.double.setUserActive(dave.id, false);
    const failed = stack.double.stats.failedLoginEvents.length;
    const posts = stack.sessionPosts().length;

    await page.clock.fastForward(50_000);
    const alert = panel.locator('.alert[data-why="token_rejected"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Home Assistant rejected the access token");
    await expect.poll(ourCookie).toBeUndefined();
    expect(await verify(copy)).toBe(401);
    expect(stack.sessionPosts().length).toBe(posts + 1);
    // The signer asked Home Assistant once; no retry, so one failed login there, not more.
    expect(stack.double.stats.failedLoginEvents.length).toBe(failed + 1);
    await page.close();
  });

  it("transient failures (Home Assistant 500 on refresh, the signer unreachable or 502) back off and keep the cookie", async () => {
    const page = await stack.openHost({ auth: await stack.authData(), extraModules: [background] }, { clock: true });
    await signedIn(page);
    const since = stack.signerCalls.length;

    // Home Assistant answers 500 to the refresh: the current token is still valid, so the renewal goes on.
    stack.double.setFault({ kind: "http_500" });
    const posts = stack.sessionPosts().length;
    await page.clock.fastForward(50_000);
    await expect.poll(() => stack.sessionPosts().length).toBe(posts + 1);
    stack.double.setFault({ kind: "none" });
    await expect.poll(async () => (await refresherState(page))?.phase).toBe("signed_in");

    // The signer's POST /session fails: no network, then a 502.
    let mode: "abort" | "502" = "abort";
    await page.route(`${stack.signerUrl}/session`, (route) =>
      route.request().method() !== "POST"
        ? route.fallback()
        : mode === "abort"
          ? route.abort("connectionrefused")
          : route.fulfill({
              status: 502,
              headers: { "access-control-allow-origin": stack.haUrl, "access-control-allow-credentials": "true" },
              json: { error: "ha_unreachable", message: "Cannot connect to Home Assistant." },
            }),
    );
    await page.clock.fastForward(50_000);
    await expect.poll(async () => (await refresherState(page))?.phase).toBe("error");
    mode = "502";
    await page.clock.fastForward(5_000);
    await settle();
    await page.clock.fastForward(10_000);
    await settle();
    expect((await refresherState(page))?.phase).toBe("error");
    expect(await ourCookie()).toBeDefined();
    await page.unroute(`${stack.signerUrl}/session`);
    await page.clock.fastForward(30_000);
    await expect.poll(async () => (await refresherState(page))?.phase).toBe("signed_in");
    expect(signerRequests(since, "/logout")).toEqual([]);
    await page.close();
  });
});

describe("a user switch on one device", () => {
  it("A logs out, B logs in: the cookie is B's at once, and /verify sees B, never A", async () => {
    const bob = stack.double.addUser({ name: "Bob", username: "bob" });
    const page = await stack.openHost({ auth: await stack.authData(), extraModules: [background] });
    const alice = await signedIn(page);
    expect(await verify(alice)).toBe(stack.user.id);

    // Every cookie value the browser holds over time, and every request that carries ours.
    const held: Array<{ at: number; value?: string }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const value = await ourCookie().catch(() => undefined);
        if (held.at(-1)?.value !== value || held.length === 0) held.push({ at: Date.now(), value });
        await settle(20);
      }
    })();
    const carried: Array<{ at: number; url: string; cookie: string }> = [];
    const record = (request: Request) => {
      const at = Date.now();
      void request.allHeaders().then((headers) => {
        const cookie = /jwt_access_token=([^;]+)/.exec(headers["cookie"] ?? "")?.[1];
        if (cookie) carried.push({ at, url: `${request.method()} ${request.url()}`, cookie });
      });
    };
    stack.context.on("request", record);

    // A logs out the way Home Assistant does: hass-logout, revoke, reload to the login page.
    const loggedOutAt = Date.now();
    const since = stack.signerCalls.length;
    const sessionsBefore = stack.sessionPosts().length;
    await page.evaluate(() => (document.querySelector("home-assistant")!.shadowRoot!.getElementById("logout") as HTMLButtonElement).click());
    await page.waitForURL(`${stack.haUrl}/logged-out`);
    // (A person takes a few seconds on the login page; by then the signer's answer has cleared A's cookie.)
    await expect.poll(ourCookie).toBeUndefined();

    // B logs in on this device: the next page load has B's tokens.
    const bobAuth = await stack.authData({ user: bob });
    await page.addInitScript((host) => ((window as unknown as { __host: unknown }).__host = host), { auth: bobAuth, extraModules: [background] });
    await page.goto(`${stack.haUrl}/`);
    await expect.poll(async () => jwtPayload((await ourCookie()) ?? "e30.e30.").sub).toBe(bob.id);
    const service = await stack.context.newPage();
    await service.goto(stack.serviceUrl);
    expect(JSON.parse((await service.textContent("body")) ?? "{}").cookie).toContain(`jwt_access_token=${await ourCookie()}`);
    await settle(200);
    sampling = false;
    await sampler;
    stack.context.off("request", record);

    // Over time the browser held A's cookie, then none, then B's: A's never came back, nothing else appeared.
    const values = held.map((h) => h.value);
    const firstB = values.findIndex((v) => v !== undefined && v !== alice);
    expect(values[0]).toBe(alice);
    expect(values.slice(1, firstB)).toEqual(values.slice(1, firstB).map(() => undefined));
    expect(new Set(values.slice(firstB))).toEqual(new Set([values[firstB]]));
    expect(values.length).toBeGreaterThanOrEqual(3);
    // /verify: every cookie the browser held is B or refused; A's copy is refused.
    expect(await verify(alice)).toBe(401);
    expect(await verify(values[firstB]!)).toBe(bob.id);

    // After A's logout, A's cookie went only with the logout itself (its one POST /logout) and with
    // the requests Home Assistant's own logout made in the same instant, before that had answered.
    // (Playwright does not always report a keepalive request's Cookie header: the signer's refusal
    // of A's copy above is the proof that the logout carried it.)
    expect(signerRequests(since, "/logout").map((c) => c.method)).toEqual(["POST"]);
    const afterLogout = carried.filter((c) => c.cookie === alice && c.at >= loggedOutAt).map((c) => c.url.replace(/:\d+/, ""));
    for (const url of afterLogout) expect(url).toMatch(/^POST http:\/\/auth\.example\.test\/logout$|^POST http:\/\/ha\.example\.test\/auth\/revoke$|^GET http:\/\/ha\.example\.test\/logged-out$/);
    // Every /session after A's logout carried B's token (A's session was never renewed).
    const after = stack.sessionPosts().slice(sessionsBefore);
    expect(after.length).toBeGreaterThanOrEqual(1);
    for (const post of after) expect(jwtPayload(post.authorization!.replace(/^Bearer /, "")).iss).toBe(jwtPayload(bobAuth.access_token).iss);
    expect(stack.pageErrors).toEqual([]);
    await service.close();
    await page.close();
  });
});
