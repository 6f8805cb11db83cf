/**
 * Home Assistant doubles for the HA-client unit tests: started per test and closed after it,
 * with the WebSocket URL the signer derives from HA_URL.
 */
import { afterEach } from "vitest";
import { startHomeAssistantDouble, type DoubleOptions, type HomeAssistantDouble } from "../../../ha-double/index.js";

export function webSocketUrl(double: HomeAssistantDouble): string {
  return `${double.url.replace(/^http/, "ws")}/api/websocket`;
}

/** Registers the clean-up in the calling test file; returns a start() whose doubles it closes after each test. */
export function doublesPerTest(): (options?: DoubleOptions) => Promise<HomeAssistantDouble> {
  const started: HomeAssistantDouble[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((d) => d.close()));
  });
  return async (options) => {
    const double = await startHomeAssistantDouble(options);
    started.push(double);
    return double;
  };
}
