/**
 * Whether a user Home Assistant just accepted may hold a cookie at all: "can only log in
 * from the local network" (local_only) and "active". `auth/current_user` reports neither;
 * only `config/auth/list` does, and only to an administrator. So this needs HA_TOKEN of an
 * administrator. A cookie works from anywhere, so a local-only user gets none.
 *
 * Home Assistant 2023.12 accepts a local-only user's token on the WebSocket from any
 * address; 2026.5+ refuses it from a non-local address only, and the signer usually sits on
 * the local network. Either way the decision has to be made here.
 *
 * The list is read once per HA_DIRECTORY_SECONDS at most (single flight). Without an
 * administrator's HA_TOKEN the check is unavailable; `status` says so (healthz), and the
 * signer issues no cookie (503 local_only_check_unavailable) unless LOCAL_ONLY_CHECK=off says
 * that no user is local-only, or that the operator accepts it (docs/self-hosting.md).
 */
import type { BanGuard } from "./ban-guard.js";
import { HomeAssistantError } from "./errors.js";

/** How long one copy of Home Assistant's user list is used at most. */
export const HA_DIRECTORY_SECONDS = 10;

interface DirectoryEntry {
  is_active: boolean;
  local_only: boolean;
}

export type DirectoryStatus =
  | { check: "active" }
  | { check: "pending" } // HA_TOKEN set, not used yet
  | { check: "unavailable"; reason: string };

export interface UserDirectory {
  /** Throws HomeAssistantError("local_only" | "inactive" | "rejected" | transient) when the user may not hold a cookie. */
  admit(userId: string): Promise<void>;
  /**
   * Home Assistant refused a token of a session of `userId`'s: a deactivated user when the
   * list (read afresh) says so, otherwise undefined (a revoked session, or the list is not
   * available). Never throws: the refusal stands either way.
   */
  refusalOf(userId: string): Promise<HomeAssistantError | undefined>;
  readonly status: DirectoryStatus;
}

function parseList(result: unknown): Map<string, DirectoryEntry> | undefined {
  if (!Array.isArray(result)) return undefined;
  const users = new Map<string, DirectoryEntry>();
  for (const item of result) {
    const u = item as Record<string, unknown> | null;
    if (!u || typeof u !== "object" || typeof u.id !== "string") return undefined;
    if (typeof u.is_active !== "boolean") return undefined;
    // Older Home Assistant releases have no local_only at all: nobody is local-only there.
    if (u.local_only !== undefined && typeof u.local_only !== "boolean") return undefined;
    users.set(u.id, { is_active: u.is_active, local_only: u.local_only === true });
  }
  return users;
}

export function createUserDirectory(
  guard: BanGuard | undefined,
  options: { required: boolean },
  log = (message: string) => console.warn(`[jwt-cookie] ${message}`),
): UserDirectory {
  let status: DirectoryStatus = guard ? { check: "pending" } : { check: "unavailable", reason: "HA_TOKEN is not set" };
  if (!guard && options.required) {
    log("Local-only users cannot be recognised: HA_TOKEN is not set. No cookie is issued until the signer has an administrator's HA_TOKEN, or LOCAL_ONLY_CHECK=off (see docs/self-hosting.md).");
  }
  let copy: { users: Map<string, DirectoryEntry>; until: number } | undefined;
  let reading: Promise<Map<string, DirectoryEntry> | undefined> | undefined;
  let warned = false;

  function unavailable(reason: string): undefined {
    status = { check: "unavailable", reason };
    if (!warned) {
      warned = true;
      log(
        options.required
          ? `Local-only users cannot be recognised: ${reason}. No cookie is issued until the signer has an administrator's HA_TOKEN, or LOCAL_ONLY_CHECK=off (see docs/self-hosting.md).`
          : `Local-only users cannot be recognised: ${reason}. With LOCAL_ONLY_CHECK=off they get cookies that work from anywhere (see docs/self-hosting.md).`,
      );
    }
    return undefined;
  }

  async function read(): Promise<Map<string, DirectoryEntry> | undefined> {
    const answer = await guard!.serviceCommand("config/auth/list");
    if (!answer.success) {
      if (answer.code === "unauthorized") return unavailable("HA_TOKEN's user is not an administrator (config/auth/list is admin-only)");
      throw new HomeAssistantError("protocol", `Home Assistant refused config/auth/list (${answer.code}).`);
    }
    const users = parseList(answer.result);
    if (!users) throw new HomeAssistantError("protocol", "Home Assistant answered config/auth/list with an unexpected shape.");
    status = { check: "active" };
    copy = { users, until: Date.now() + HA_DIRECTORY_SECONDS * 1000 };
    return users;
  }

  function uncheckable(): HomeAssistantError {
    const reason = status.check === "unavailable" ? status.reason : "HA_TOKEN is not set";
    return new HomeAssistantError(
      "local_only_unchecked",
      `The signer cannot tell whether this user may log in only from the local network (${reason}), so it issues no cookie: give it a long-lived access token of a Home Assistant administrator as HA_TOKEN, or set LOCAL_ONLY_CHECK=off if no user has "Can only log in from the local network".`,
    );
  }

  function readShared(): Promise<Map<string, DirectoryEntry> | undefined> {
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  }

  return {
    get status() {
      return status;
    },
    async refusalOf(userId) {
      if (!guard || status.check === "unavailable") return undefined;
      try {
        // Afresh: the user may have been deactivated a moment ago.
        const entry = (await readShared())?.get(userId);
        return entry && !entry.is_active ? new HomeAssistantError("inactive", "Home Assistant says this user is deactivated.") : undefined;
      } catch {
        return undefined;
      }
    },
    async admit(userId) {
      if (!options.required) return;
      if (!guard || status.check === "unavailable") throw uncheckable();
      const cached = copy && copy.until > Date.now() ? copy.users : undefined;
      let entry = cached?.get(userId);
      if (!entry) {
        // Not read yet, out of date, or a user added since the copy was made: read it afresh.
        const users = await readShared();
        if (!users) throw uncheckable(); // unavailable: logged once above
        entry = users.get(userId);
      }
      if (!entry) {
        throw new HomeAssistantError("rejected", "Home Assistant accepted the token, but its user is not in Home Assistant's user list (deleted a moment ago?).");
      }
      if (!entry.is_active) throw new HomeAssistantError("inactive", "Home Assistant says this user is deactivated.");
      if (entry.local_only) {
        throw new HomeAssistantError(
          "local_only",
          'This Home Assistant user may log in only from the local network ("Can only log in from the local network"), and a cookie works from anywhere, so the signer issues none. Turn that option off for this user to use the signer.',
        );
      }
    },
  };
}
