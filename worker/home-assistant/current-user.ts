/**
 * Who a Home Assistant access token belongs to: `auth/current_user` right after the auth
 * phase, over one WebSocket exchange (websocket-exchange.ts).
 */
import { HomeAssistantError } from "./errors.js";
import { exchange } from "./websocket-exchange.js";

export interface HomeAssistantUser {
  id: string;
  name: string;
  is_owner: boolean;
  is_admin: boolean;
}

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

function parseUser(result: unknown): HomeAssistantUser | undefined {
  const r = result as Record<string, unknown> | null;
  if (!r || typeof r !== "object") return undefined;
  if (typeof r.id !== "string" || !USER_ID.test(r.id)) return undefined;
  if (typeof r.is_owner !== "boolean" || typeof r.is_admin !== "boolean") return undefined;
  // Home Assistant allows a user without a name (None); the id stands in for it then.
  if (r.name !== null && r.name !== undefined && typeof r.name !== "string") return undefined;
  return { id: r.id, name: typeof r.name === "string" ? r.name : r.id, is_owner: r.is_owner, is_admin: r.is_admin };
}

export async function fetchCurrentUser(webSocketUrl: string, accessToken: string, timeoutMs: number): Promise<HomeAssistantUser> {
  const answer = await exchange(webSocketUrl, accessToken, timeoutMs, "auth/current_user");
  // @ws_require_user(): the user was deactivated after Home Assistant accepted the token.
  if (answer && !answer.success && answer.code === "only_active_user") {
    throw new HomeAssistantError("inactive", "Home Assistant says this user is deactivated.");
  }
  const user = answer?.success ? parseUser(answer.result) : undefined;
  if (!user) throw new HomeAssistantError("protocol", "Home Assistant answered auth/current_user with an error or an unexpected shape.");
  return user;
}
