/**
 * fetchCurrentUser against the Home Assistant double: the answers to auth/current_user that
 * are not a user.
 */
import { describe, expect, test } from "vitest";
import { fetchCurrentUser } from "../../../worker/home-assistant/current-user.js";
import { HomeAssistantError } from "../../../worker/home-assistant/errors.js";
import { doublesPerTest, webSocketUrl } from "./support/doubles.js";

const startDouble = doublesPerTest();

describe("fetchCurrentUser", () => {
  test("a user deactivated between auth_ok and auth/current_user is refused as inactive (only_active_user), not as a protocol error", async () => {
    const d = await startDouble();
    const user = d.addUser();
    // Every frame 150 ms late: the user is deactivated after Home Assistant accepted the token
    // and before the signer's command arrives.
    d.setFault({ kind: "slow", delayMs: 150 });
    const lookup = fetchCurrentUser(webSocketUrl(d), d.accessToken(user.id), 3000).catch((error: unknown) => error);
    while (d.stats.authOk === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    d.setUserActive(user.id, false);
    const error = await lookup;
    expect(error).toBeInstanceOf(HomeAssistantError);
    expect((error as HomeAssistantError).failure).toBe("inactive");
    expect(d.stats.currentUserRequests).toBe(1);
    expect(d.stats.failedLogins()).toBe(0);
  });

  test("an owner outside the admin group is reported as Home Assistant does: is_admin", async () => {
    const d = await startDouble();
    const owner = d.addUser({ name: "Owner", is_owner: true, is_admin: false });
    expect(await fetchCurrentUser(webSocketUrl(d), d.accessToken(owner.id), 3000)).toEqual({ id: owner.id, name: "Owner", is_owner: true, is_admin: true });
  });
});
