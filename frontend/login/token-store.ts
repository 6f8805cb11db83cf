/**
 * Home Assistant's tokens for this browser, in the sign-in page's localStorage (the signer's
 * origin only), so the next visit renews the cookie without a password prompt. Tokens for
 * another Home Assistant are ignored.
 */
import type { AuthData } from "home-assistant-js-websocket";

const KEY = "jwt-cookie:hass-tokens";

function isAuthData(value: unknown): value is AuthData {
  const v = value as Partial<AuthData> | null;
  return (
    !!v &&
    typeof v.hassUrl === "string" &&
    typeof v.access_token === "string" &&
    typeof v.refresh_token === "string" &&
    typeof v.expires === "number" &&
    (v.clientId === null || typeof v.clientId === "string")
  );
}

export function saveTokens(data: AuthData | null): void {
  try {
    if (data) localStorage.setItem(KEY, JSON.stringify(data));
    else localStorage.removeItem(KEY);
  } catch {
    // Storage full or disabled (private mode): sign-in still works, just without SSO.
  }
}

export function loadStoredTokens(hassUrl: string): AuthData | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(localStorage.getItem(KEY) ?? "null");
  } catch {
    return undefined;
  }
  return isAuthData(parsed) && parsed.hassUrl === hassUrl ? parsed : undefined;
}

export function clearTokens(): void {
  saveTokens(null);
}
