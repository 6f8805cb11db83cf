/**
 * The refresher's event triggers (issue 3): it renews again when the tab becomes visible after
 * the device slept, and when Home Assistant's WebSocket reconnects, but only if a renewal is due
 * or the last one failed. Real Chromium, the real signer in workerd (TOKEN_TTL=60, so a renewal
 * is planned 42-48 s after sign-in), the host page's real home-assistant-js-websocket connection
 * to the Home Assistant double, and a controlled page clock. POST /session is counted on the wire.
 *
 * A sleeping device is page.clock.setSystemTime(): the wall clock jumps, but no timer fires (the
 * fake timers run on their own ticks), so only the event under test can start the renewal.
 * Headless Chromium never hides a tab, so "hidden"/"visible" is document.visibilityState and
 * document.hidden overridden on the document, followed by a real visibilitychange event.
 */
import type { Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, startFrontendStack, type FrontendStack } from "../support/frontend-stack.js";

let stack: FrontendStack;

beforeAll(async () => {
  stack = await startFrontendStack({ signerEnv: { TOKEN_TTL: "60" } });
});

afterAll(async () => {
  await stack?.close();
});

/** Real time, so the page's real network (and the HA double's restart) can settle. */
const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

interface PageState {
  phase: string;
  failures: number;
  renewAt?: number;
  nextAttemptAt?: number;
  errorCode?: string;
}

function state(page: Page): Promise<PageState | undefined> {
  return page.evaluate(() => {
    const s = (globalThis as unknown as Record<symbol, { refresher: { state: Record<string, unknown> } } | undefined>)[Symbol.for("jwt-cookie.v1")]?.refresher
      .state as { phase: string; failures: number; session?: { renewAt: number }; nextAttemptAt?: number; error?: { code: string } } | undefined;
    return s && { phase: s.phase, failures: s.failures, renewAt: s.session?.renewAt, nextAttemptAt: s.nextAttemptAt, errorCode: s.error?.code };
  });
}

async function signedIn(): Promise<Page> {
  const page = await stack.openHost({ auth: await stack.authData(), extraModules: [`${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`] }, { clock: true });
  await expect.poll(async () => (await state(page))?.phase).toBe("signed_in");
  // The start-up renewal has finished (and released its lock) before anything is counted.
  await settle(500);
  return page;
}

/** Hides or shows the tab as the page sees it, and fires visibilitychange. */
async function setVisibility(page: Page, visibility: "hidden" | "visible"): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => value });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => value === "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  }, visibility);
}

/** The device sleeps past `at` (page clock, ms): Date.now() jumps, no timer runs. */
async function sleepUntil(page: Page, at: number): Promise<void> {
  await page.clock.setSystemTime(at);
  expect(await page.evaluate(() => Date.now())).toBeGreaterThanOrEqual(at);
}

/** Counts the "ready" events of the host page's own Home Assistant connection. */
async function countReadies(page: Page): Promise<() => Promise<number>> {
  await page.evaluate(() => {
    const w = window as unknown as { __readies: number; __hass: { connection: { addEventListener(e: string, cb: () => void): void } } };
    w.__readies = 0;
    w.__hass.connection.addEventListener("ready", () => w.__readies++);
  });
  return () => page.evaluate(() => (window as unknown as { __readies: number }).__readies);
}

/** Restarts Home Assistant (the double, same port): the page's WebSocket drops and reconnects. */
async function restartHomeAssistant(): Promise<void> {
  await stack.double.stop();
  await settle(200);
  await stack.double.start();
}

describe("renewal triggers", () => {
  it("returning to the tab renews once when a renewal fell due while it was hidden, and not otherwise", async () => {
    const page = await signedIn();
    const posts = stack.sessionPosts().length;
    const { renewAt } = (await state(page))!;
    expect(renewAt).toBeDefined();

    // Hidden, then the device sleeps past the planned renewal: no timer fires, nothing is sent.
    await setVisibility(page, "hidden");
    await sleepUntil(page, renewAt! + 1_000);
    await settle(500);
    expect(stack.sessionPosts().length).toBe(posts);
    // A visibilitychange to "hidden" is no reason to renew, even with one due.
    await setVisibility(page, "hidden");
    await settle(500);
    expect(stack.sessionPosts().length).toBe(posts);

    // Back to the tab: exactly one renewal, at once (the page clock is not advanced for it).
    const shownAt = Date.now();
    await setVisibility(page, "visible");
    await expect.poll(() => stack.sessionPosts().length, { timeout: 3_000, interval: 50 }).toBe(posts + 1);
    expect(stack.sessionPosts().at(-1)!.at - shownAt).toBeLessThan(2_000);
    expect((await stack.sessionPosts().at(-1)!.request.response())?.status()).toBe(200);
    await expect.poll(async () => (await state(page))?.phase).toBe("signed_in");
    const after = (await state(page))!;
    expect(after.renewAt!).toBeGreaterThan(renewAt! + 1_000);
    await settle(1_000);
    expect(stack.sessionPosts().length).toBe(posts + 1);

    // Hidden and back again with nothing due: no renewal.
    await setVisibility(page, "hidden");
    await setVisibility(page, "visible");
    await settle(1_000);
    expect(stack.sessionPosts().length).toBe(posts + 1);
    expect((await state(page))!.renewAt).toBe(after.renewAt);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });

  it("Home Assistant reconnecting renews when a renewal is due, and not when none is", async () => {
    const page = await signedIn();
    const readies = await countReadies(page);
    const posts = stack.sessionPosts().length;

    // Nothing due: the connection comes back ("ready"), no renewal.
    await restartHomeAssistant();
    await expect.poll(readies, { timeout: 8_000 }).toBe(1);
    await settle(1_000);
    expect(stack.sessionPosts().length).toBe(posts);
    expect((await state(page))!.phase).toBe("signed_in");

    // The device sleeps past the planned renewal (no timer fires); on waking, Home Assistant's
    // WebSocket reconnects, and that alone renews, once.
    const { renewAt } = (await state(page))!;
    await sleepUntil(page, renewAt! + 1_000);
    await settle(500);
    expect(stack.sessionPosts().length).toBe(posts);
    await restartHomeAssistant();
    await expect.poll(readies, { timeout: 8_000 }).toBe(2);
    await expect.poll(() => stack.sessionPosts().length, { timeout: 3_000, interval: 50 }).toBe(posts + 1);
    expect((await stack.sessionPosts().at(-1)!.request.response())?.status()).toBe(200);
    await expect.poll(async () => (await state(page))?.phase).toBe("signed_in");
    expect((await state(page))!.renewAt!).toBeGreaterThan(renewAt! + 1_000);
    await settle(1_000);
    expect(stack.sessionPosts().length).toBe(posts + 1);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });

  it("Home Assistant reconnecting retries a failed renewal at once, without waiting out the backoff", async () => {
    const page = await signedIn();
    const readies = await countReadies(page);
    const posts = stack.sessionPosts().length;

    // The planned renewal fails: the signer says 503 with Retry-After: 600 (a 10-minute backoff).
    const failing = async (route: import("playwright-core").Route) => {
      if (route.request().method() !== "POST") return route.continue();
      await route.fulfill({
        status: 503,
        contentType: "application/json",
        headers: {
          "access-control-allow-origin": stack.haUrl,
          "access-control-allow-credentials": "true",
          "access-control-expose-headers": "Retry-After",
          "retry-after": "600",
        },
        body: JSON.stringify({ error: "unavailable", message: "Try again later." }),
      });
    };
    await stack.context.route(`${stack.signerUrl}/session`, failing);
    const { renewAt } = (await state(page))!;
    const now = await page.evaluate(() => Date.now());
    await page.clock.fastForward(renewAt! - now + 1_000);
    await expect.poll(async () => (await state(page))?.phase).toBe("error");
    expect(stack.sessionPosts().length).toBe(posts + 1);
    const failed = (await state(page))!;
    expect(failed.failures).toBe(1);
    expect(failed.nextAttemptAt! - (await page.evaluate(() => Date.now()))).toBeGreaterThan(500_000);
    await stack.context.unroute(`${stack.signerUrl}/session`, failing);

    // Home Assistant reconnects: the failed renewal is retried at once, and succeeds.
    await restartHomeAssistant();
    await expect.poll(readies, { timeout: 8_000 }).toBe(1);
    await expect.poll(() => stack.sessionPosts().length, { timeout: 3_000, interval: 50 }).toBe(posts + 2);
    expect((await stack.sessionPosts().at(-1)!.request.response())?.status()).toBe(200);
    await expect.poll(async () => (await state(page))?.phase).toBe("signed_in");
    expect((await state(page))!.failures).toBe(0);
    await settle(1_000);
    expect(stack.sessionPosts().length).toBe(posts + 2);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });

  it("a Home Assistant token refresh that never answers does not stall renewals: the still-valid token is used", async () => {
    const page = await signedIn();
    const posts = stack.sessionPosts().length;
    // Home Assistant (or a proxy before it) accepts the refresh request and never answers.
    const held: Route[] = [];
    await page.route("**/auth/token", (route) => void held.push(route));
    const { renewAt } = (await state(page))!;
    const now = await page.evaluate(() => Date.now());
    await page.clock.fastForward(renewAt! - now + 1_000);
    await expect.poll(() => held.length).toBe(1);
    await settle();
    expect((await state(page))!.phase).toBe("renewing");

    // The access token Home Assistant issued at sign-in is valid for another ~29 minutes: after a
    // while the renewal goes ahead with it instead of waiting (holding every tab's lock) forever.
    await page.clock.fastForward(20_000);
    await expect.poll(() => stack.sessionPosts().length, { timeout: 3_000 }).toBe(posts + 1);
    expect((await stack.sessionPosts().at(-1)!.request.response())?.status()).toBe(200);
    await expect.poll(async () => (await state(page))?.phase).toBe("signed_in");
    expect(held.length).toBe(1);
    expect(stack.double.stats.failedLogins()).toBe(0);
    for (const route of held) await route.abort().catch(() => undefined);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });
});
