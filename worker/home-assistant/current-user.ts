/**
 * The one exchange the signer has with Home Assistant, over its WebSocket API:
 *   S auth_required -> C auth -> S auth_ok | auth_invalid -> C {id:1, auth/current_user} -> S result
 * The standard WebSocket client works the same in workerd, Node (>= 20.10 with
 * --experimental-websocket, 22+ by default) and browsers. No retries, ever: a retried
 * invalid token is a second failed login at Home Assistant.
 */
import { HomeAssistantError } from "./errors.js";

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

function rejection(message: unknown): HomeAssistantError {
  if (message === "User is not active") {
    return new HomeAssistantError("inactive", "Home Assistant says this user is deactivated.");
  }
  if (message === "User cannot authenticate remotely") {
    return new HomeAssistantError(
      "local_only",
      'Home Assistant refuses this user from the signer\'s address because the user may log in only from the local network; turn off "Can only log in from the local network" for this user to use the signer.',
    );
  }
  return new HomeAssistantError("rejected", "Home Assistant rejected the access token (expired, revoked or of another installation).");
}

export function fetchCurrentUser(webSocketUrl: string, accessToken: string, timeoutMs: number): Promise<HomeAssistantUser> {
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    let stage: "connecting" | "auth_required" | "auth_sent" | "user_requested" | "done" = "connecting";
    const finish = (outcome: HomeAssistantUser | HomeAssistantError) => {
      if (stage === "done") return;
      stage = "done";
      clearTimeout(timer);
      try {
        socket?.close(1000);
      } catch {
        // already closed
      }
      if (outcome instanceof HomeAssistantError) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(() => {
      finish(
        new HomeAssistantError(
          "timeout",
          `Home Assistant did not answer within ${timeoutMs} ms (stage: ${stage}); check that HA_URL points at a running Home Assistant, or raise HA_TIMEOUT.`,
        ),
      );
    }, timeoutMs);

    try {
      socket = new WebSocket(webSocketUrl);
    } catch (error) {
      finish(new HomeAssistantError("unreachable", `Cannot open a WebSocket to ${webSocketUrl}: ${String(error)}`));
      return;
    }

    socket.addEventListener("message", (event: MessageEvent) => {
      if (stage === "done") return;
      let frame: Record<string, unknown>;
      try {
        frame = typeof event.data === "string" ? JSON.parse(event.data) : null;
      } catch {
        frame = null as never;
      }
      if (!frame || typeof frame !== "object" || Array.isArray(frame)) {
        finish(new HomeAssistantError("protocol", "Home Assistant's WebSocket sent something that is not a JSON object; is HA_URL really Home Assistant?"));
        return;
      }
      if (stage === "auth_required" && frame.type === "auth_required") {
        stage = "auth_sent";
        socket.send(JSON.stringify({ type: "auth", access_token: accessToken }));
      } else if (stage === "auth_sent" && frame.type === "auth_ok") {
        stage = "user_requested";
        socket.send(JSON.stringify({ id: 1, type: "auth/current_user" }));
      } else if (stage === "auth_sent" && frame.type === "auth_invalid") {
        finish(rejection(frame.message));
      } else if (stage === "user_requested" && frame.id === 1 && frame.type === "result") {
        const user = frame.success === true ? parseUser(frame.result) : undefined;
        finish(
          user ?? new HomeAssistantError("protocol", "Home Assistant answered auth/current_user with an error or an unexpected shape."),
        );
      } else {
        finish(new HomeAssistantError("protocol", `Home Assistant sent an unexpected "${String(frame.type)}" message during ${stage}.`));
      }
    });
    socket.addEventListener("open", () => {
      if (stage === "connecting") stage = "auth_required";
    });
    socket.addEventListener("error", () => {
      finish(
        stage === "connecting"
          ? new HomeAssistantError(
              "unreachable",
              `Cannot connect to Home Assistant's WebSocket at ${webSocketUrl} (refused, not Home Assistant, or this address is banned in ip_bans.yaml).`,
            )
          : new HomeAssistantError("protocol", "The WebSocket to Home Assistant failed in the middle of the exchange."),
      );
    });
    socket.addEventListener("close", () => {
      finish(
        stage === "connecting"
          ? new HomeAssistantError("unreachable", `Home Assistant's WebSocket at ${webSocketUrl} closed before it opened.`)
          : new HomeAssistantError("protocol", "Home Assistant closed the WebSocket in the middle of the exchange."),
      );
    });
  });
}
