/** The one WebSocket exchange against the Home Assistant double: when a rejection is settled. */
import { describe, expect, test } from "vitest";
import { HomeAssistantError } from "../../../worker/home-assistant/errors.js";
import { exchange } from "../../../worker/home-assistant/websocket-exchange.js";
import { doublesPerTest, webSocketUrl } from "./support/doubles.js";
import { fakeHaToken } from "../../support/tokens.js";

const startDouble = doublesPerTest();

describe("exchange", () => {
  test("a rejection is settled at Home Assistant's close after auth_invalid: by then Home Assistant has counted it", async () => {
    const d = await startDouble({ failedLoginDelayMs: 250 });
    const error = await exchange(webSocketUrl(d), fakeHaToken(), 3000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HomeAssistantError);
    expect((error as HomeAssistantError).failure).toBe("rejected");
    expect((error as HomeAssistantError).unanswered).toBe(false);
    expect(d.stats.failedLogins()).toBe(1);
  });

  test("if Home Assistant does not close in time after auth_invalid, it is still a rejection (not a timeout)", async () => {
    const d = await startDouble({ failedLoginDelayMs: 2000 });
    const error = await exchange(webSocketUrl(d), fakeHaToken(), 500).catch((e: unknown) => e);
    expect((error as HomeAssistantError).failure).toBe("rejected");
  });
});
