/**
 * The signer is down: the panel names the cause (from its diagnostics), the refresher backs
 * off exponentially (counted on the wire, on a controlled clock), logs one console line, and
 * recovers at once when the device comes back online.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, startFrontendStack, type FrontendStack } from "../support/frontend-stack.js";
import { startWorkerdSigner, testSigningKey, type RunningSigner } from "../support/signer.js";

let stack: FrontendStack;
let late: RunningSigner | undefined;

beforeAll(async () => {
  stack = await startFrontendStack({ signer: false });
});

afterAll(async () => {
  await stack?.close();
  await late?.close();
});

const settle = (ms = 40) => new Promise((resolve) => setTimeout(resolve, ms));

describe("when the signer is down", () => {
  it("the panel names the cause, the refresher backs off, and it recovers when back online", async () => {
    const page = await stack.openHost(
      { auth: await stack.authData(), panel: { module_url: BUNDLE_PATH, config: { signer_url: stack.signerUrl } } },
      { path: "/jwt-cookie", clock: true },
    );
    const lines = stack.consoleLines;
    const panel = page.locator("jwt-cookie-panel");
    const alert = panel.locator('.alert[data-why="unreachable"]');
    await alert.waitFor();
    await expect.poll(() => alert.textContent()).toContain(`Nothing answers at ${stack.signerUrl}`);
    expect(await panel.locator(".pill").getAttribute("data-phase")).toBe("error");
    expect(await panel.locator('li[data-check="signer"]').getAttribute("data-level")).toBe("fail");

    // One minute on the page's clock, a second at a time: attempts thin out exponentially.
    const attemptsAt: number[] = [];
    let seen = stack.sessionPosts().length;
    for (let second = 1; second <= 60; second++) {
      await page.clock.fastForward(1000);
      await settle();
      const now = stack.sessionPosts().length;
      for (; seen < now; seen++) attemptsAt.push(second);
    }
    // Backoff 2 s doubling, with jitter 50-100 %: 1+2+4+8+16+32 s at the quickest, so at most 6
    // retries in a minute (a fixed 2 s retry would make 30); and never zero.
    expect(attemptsAt.length).toBeGreaterThanOrEqual(3);
    expect(attemptsAt.length).toBeLessThanOrEqual(6);
    const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(gaps[i - 1]! - 1);
    expect(gaps.at(-1)!).toBeGreaterThanOrEqual(8);
    // One clear console line, not one per failure.
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`No answer from the signer at ${stack.signerUrl}`);

    // The signer comes up on that address; going online retries at once, without waiting out the backoff.
    late = await startWorkerdSigner(
      {
        HA_URL: stack.double.url,
        SIGNING_KEY: await testSigningKey(),
        ALLOWED_ORIGINS: stack.haUrl,
        COOKIE_DOMAIN: ".example.test",
        COOKIE_SECURE: "false",
      },
      { port: Number(new URL(stack.signerUrl).port) },
    );
    const before = stack.sessionPosts().length;
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    await panel.locator('.pill[data-phase="signed_in"]').waitFor();
    expect(stack.sessionPosts().length).toBe(before + 1);
    expect((await stack.context.cookies(stack.signerUrl)).some((c) => c.name === "jwt_access_token")).toBe(true);
    expect(stack.double.stats.failedLogins()).toBe(0);
    await page.close();
  });
});
