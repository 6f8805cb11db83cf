/** What can go wrong when asking Home Assistant who a token belongs to. */
export type HomeAssistantFailure =
  | "rejected" // auth_invalid: expired, revoked, garbage or of another installation
  | "inactive" // auth_invalid "User is not active"
  | "local_only" // auth_invalid "User cannot authenticate remotely"
  | "unreachable"
  | "timeout"
  | "protocol";

export class HomeAssistantError extends Error {
  constructor(
    readonly failure: HomeAssistantFailure,
    message: string,
  ) {
    super(message);
    this.name = "HomeAssistantError";
  }

  /** Home Assistant has answered about this token; asking again would only add a failed login. */
  get isVerdict(): boolean {
    return this.failure === "rejected" || this.failure === "inactive" || this.failure === "local_only";
  }
}
