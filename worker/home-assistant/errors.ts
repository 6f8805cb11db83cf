/** What can go wrong when asking Home Assistant who a token belongs to. */
export type HomeAssistantFailure =
  | "rejected" // auth_invalid: expired, revoked, garbage, of another installation, or (2026.5+) a user HA refuses
  | "inactive" // HA accepted the token, but its user directory says the user is deactivated
  | "local_only" // HA accepted the token, but its user directory says the user may log in only locally
  | "client_held_back" // not sent: this client's tokens were rejected too often (ban-guard.ts)
  | "guard_held_back" // not sent: one more rejection could get the signer banned (ban-guard.ts)
  | "local_only_unchecked" // HA accepted the token, but the signer cannot see local_only (no administrator's HA_TOKEN)
  | "unreachable"
  | "timeout"
  | "protocol";

export class HomeAssistantError extends Error {
  constructor(
    readonly failure: HomeAssistantFailure,
    message: string,
    /** For the held-back failures: when asking again may succeed. */
    readonly retryAfterSeconds?: number,
    /**
     * The token reached Home Assistant but no verdict came back (a timeout or a dropped
     * connection after the auth message): Home Assistant may have counted a failed login.
     */
    readonly unanswered = false,
  ) {
    super(message);
    this.name = "HomeAssistantError";
  }

  /** Home Assistant has answered about this token; asking again would only add a failed login. */
  get isVerdict(): boolean {
    return this.failure === "rejected" || this.failure === "inactive" || this.failure === "local_only";
  }
}
