/**
 * The companion apps: Home Assistant's frontend runs with an ExternalAuth that asks the
 * native app for tokens through its bridge (Android: window.externalApp with JSON strings, or
 * on newer apps only window.externalAppV2.postMessage(JSON {type, payload}); iOS:
 * window.webkit.messageHandlers with objects). The "native side" here hands out real
 * tokens from the Home Assistant double.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, startFrontendStack, type FrontendStack } from "../support/frontend-stack.js";

let stack: FrontendStack;

beforeAll(async () => {
  stack = await startFrontendStack();
});

afterAll(async () => {
  await stack?.close();
});

describe.each(["android", "android-v2", "ios"] as const)("in the %s app", (platform) => {
  it("signs in with the app's token, and asks the app again once that token has expired", async () => {
    const issued: string[] = [];
    const before = stack.sessionPosts().length;
    const page = await stack.openHost(
      { mode: platform, extraModules: [`${BUNDLE_PATH}?signer=${encodeURIComponent(stack.signerUrl)}`] },
      {
        clock: true,
        setup: async (p) => {
          await p.exposeFunction("__nativeToken", () => {
            issued.push(stack.double.accessToken(stack.user.id));
            return { access_token: issued.at(-1), expires_in: 1800 };
          });
        },
      },
    );
    await expect.poll(() => stack.sessionPosts().length).toBe(before + 1);
    expect(stack.sessionPosts().at(-1)!.authorization).toBe(`Bearer ${issued.at(-1)}`);
    const calls = () => page.evaluate(() => (window as unknown as { __bridgeCalls: unknown[] }).__bridgeCalls);
    expect(await calls()).toEqual([{ callback: "externalAuthSetToken" }]);
    await expect.poll(async () => (await stack.context.cookies(stack.signerUrl)).some((c) => c.name === "jwt_access_token")).toBe(true);
    // The renewal is scheduled once the answer has been read.
    await expect
      .poll(() => page.evaluate(() => (globalThis as Record<symbol, { refresher: { state: { phase: string } } }>)[Symbol.for("jwt-cookie.v1")]?.refresher.state.phase))
      .toBe("signed_in");

    // 31 minutes later the renewal finds the app's token expired and asks the app first.
    await page.clock.fastForward(31 * 60_000);
    await expect.poll(() => stack.sessionPosts().length).toBe(before + 2);
    expect(await calls()).toHaveLength(2);
    expect(issued).toHaveLength(2);
    expect(stack.sessionPosts().at(-1)!.authorization).toBe(`Bearer ${issued[1]}`);
    expect((await stack.sessionPosts().at(-1)!.request.response())?.status()).toBe(200);
    expect(stack.double.stats.failedLogins()).toBe(0);
    expect(stack.pageErrors).toEqual([]);
    await page.close();
  });
});
