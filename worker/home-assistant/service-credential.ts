/**
 * HA_TOKEN: a long-lived access token of a dedicated Home Assistant user that the signer
 * uses on its own behalf. Authenticating with it (auth -> auth_ok) resets Home Assistant's
 * failed-login count for the signer's address; if that user is an administrator, it can
 * also read the user list (config/auth/list) for user-directory.ts.
 * Only ban-guard.ts calls this, so that every authentication is accounted for.
 */
import { exchange, type CommandAnswer } from "./websocket-exchange.js";

export interface ServiceCredential {
  /** auth -> auth_ok -> close. Rejects with HomeAssistantError ("rejected" if HA_TOKEN is refused). */
  authenticate(): Promise<void>;
  /** auth, then one command; resolves with Home Assistant's answer to it. */
  command(type: string): Promise<CommandAnswer>;
}

export function createServiceCredential(webSocketUrl: string, token: string, timeoutMs: number): ServiceCredential {
  return {
    async authenticate() {
      await exchange(webSocketUrl, token, timeoutMs);
    },
    async command(type) {
      return (await exchange(webSocketUrl, token, timeoutMs, type))!;
    },
  };
}
