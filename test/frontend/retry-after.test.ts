/**
 * The signer's "wait this long" (Retry-After on 429 rate_limited / too_many_rejected_tokens and
 * 503 ha_ban_guard) reaches the refresher across origins. Retry-After is not a CORS-safelisted
 * response header: unless the signer exposes it, the page's fetch cannot read it, and the
 * refresher falls back to its 2 s backoff against a signer that asked for a minute. The real
 * signer in workerd with RATE_LIMIT=1 (one POST /session a minute per address), on a controlled
 * page clock; POST /session is counted on the wire.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, startFrontendStack, type FrontendStack } from "../support/frontend-stack.js";

let stack: FrontendStack;

beforeAll(async () => {
  stack = await startFrontendStack({ signerEnv: { RATE_LIMIT: "1" } });
});

afterAll(async () => {
  await stack?.close();
});

const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

interface RefresherView {
  phase: string;
  nextAttemptAt?: number;
  error?: { code: string; status: number };
}

const refresher = (page: Page) =>
  page.evaluate(() => {
    const state = (globalThis as Record<symbol, { refresher: { state: RefresherView } } | undefined>)[Symbol.for("jwt-cookie.v1")]?.refresher.state;
    return state && { phase: state.phase, nextAttemptAt: state.nextAttemptAt, error: state.error && { code: state.error.code, status: state.error.status }, now: Date.now() };
  });

describe("Retry-After from the signer", () => {
  it("a 429 rate_limited is retried no sooner than the signer asked, not after the 2 s backoff", async () => {
    const page = await stack.openHost({ auth: await stack.authData(), extraModules: [`${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`] }, { clock: true });
    await expect.poll(async () => (await refresher(page))?.phase).toBe("signed_in");
    await settle(500);
    const posts = stack.sessionPosts().length;

    // "Renew now" within the minute: the signer's bucket is empty, it answers 429 with Retry-After.
    const limited = page.waitForResponse((r) => r.url().endsWith("/session") && r.request().method() === "POST");
    await page.evaluate(() => (globalThis as Record<symbol, { refresher: { renew(): Promise<void> } }>)[Symbol.for("jwt-cookie.v1")]!.refresher.renew());
    const response = await limited;
    expect(response.status()).toBe(429);
    const wait = Number((await response.allHeaders())["retry-after"]);
    expect(wait).toBeGreaterThanOrEqual(30);

    const failed = (await refresher(page))!;
    expect(failed).toMatchObject({ phase: "error", error: { code: "rate_limited", status: 429 } });
    expect(failed.nextAttemptAt! - failed.now).toBeGreaterThanOrEqual(wait * 1000 - 1000);

    // Half the wait on the page's clock: no new attempt (the 2 s backoff would have made several).
    for (let i = 0; i < 10; i++) {
      await page.clock.fastForward((wait * 1000) / 20);
      await settle(50);
    }
    expect(stack.sessionPosts().length).toBe(posts + 1);
    // How: the signer lets the page read the header.
    expect(response.headers()["access-control-expose-headers"]?.toLowerCase()).toContain("retry-after");
    await page.close();
  });
});
