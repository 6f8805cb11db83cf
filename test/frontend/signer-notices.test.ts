/**
 * The panel's diagnostics say plainly when the signer itself stops sign-ins, and what to
 * configure: here a signer without an administrator's HA_TOKEN and with the local-only check on
 * (its default), so it issues no cookie (503 local_only_check_unavailable).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH, startFrontendStack, type FrontendStack } from "../support/frontend-stack.js";

let stack: FrontendStack;

beforeAll(async () => {
  stack = await startFrontendStack({ signerEnv: { LOCAL_ONLY_CHECK: "on" } });
});

afterAll(async () => {
  await stack?.close();
});

describe("signer notices in the panel's diagnostics", () => {
  it("a signer that cannot check local-only users: no cookie, and a diagnostics row that says what to set", async () => {
    const page = await stack.openHost(
      { auth: await stack.authData(), panel: { module_url: BUNDLE_PATH, config: { signer_url: stack.signerUrl } } },
      { path: "/jwt-cookie" },
    );
    const row = page.locator('jwt-cookie-panel li[data-check="notice"]');
    await row.waitFor();
    expect(await row.getAttribute("data-level")).toBe("fail");
    const text = await row.textContent();
    expect(text).toContain("HA_TOKEN");
    expect(text).toContain("LOCAL_ONLY_CHECK=off");
    expect((await stack.context.cookies(stack.signerUrl)).find((c) => c.name === "jwt_access_token")).toBeUndefined();
    await page.close();
  });
});
