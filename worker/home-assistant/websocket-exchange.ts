/**
 * One short WebSocket exchange with Home Assistant:
 *   S auth_required -> C auth -> S auth_ok [-> C {id:1, <command>} -> S result] -> C close
 *                                | S auth_invalid -> S close
 * The standard WebSocket client works the same in workerd, Node (>= 20.10 with
 * --experimental-websocket, 22+ by default) and browsers. No retries, ever: a retried
 * invalid token is a second failed login at Home Assistant.
 *
 * An `auth_invalid` is a rejection, whatever its message says: Home Assistant's wording
 * changes between releases (2026.5+ may send translation keys), so it is never parsed.
 * It is settled only when Home Assistant closes the connection: websocket_api/auth.py sends
 * auth_invalid, then awaits process_wrong_login (a reverse DNS lookup first, then the count
 * and any ban), then closes. Answering at auth_invalid would let the signer's reset with
 * HA_TOKEN (ban-guard.ts) reach Home Assistant before the failure is counted, leaving a count
 * the signer believes is zero.
 */
import { HomeAssistantError } from "./errors.js";

/** The answer to the one command: Home Assistant's `result` or its `error`. */
export type CommandAnswer = { success: true; result: unknown } | { success: false; code: string; message: string };

/**
 * Authenticates with `accessToken`; with a `command`, sends it as id 1 and resolves with the
 * answer; without, resolves once Home Assistant said auth_ok (that alone resets its
 * failed-login count for this address). Rejects with HomeAssistantError.
 */
export function exchange(webSocketUrl: string, accessToken: string, timeoutMs: number, command?: string): Promise<CommandAnswer | undefined> {
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    let stage: "connecting" | "auth_required" | "auth_sent" | "auth_rejected" | "command_sent" | "done" = "connecting";
    const finish = (outcome: { answer: CommandAnswer | undefined } | HomeAssistantError) => {
      if (stage === "done") return;
      // After auth_invalid, whatever ends the wait (the close, an error, the timeout) ends in the rejection.
      if (stage === "auth_rejected") {
        outcome = new HomeAssistantError("rejected", "Home Assistant rejected the access token (expired, revoked, of another installation, or its user may not sign in).");
      }
      // Sent, but no auth_ok or auth_invalid back: Home Assistant may still count it as a failed login.
      if (outcome instanceof HomeAssistantError && !outcome.isVerdict && stage === "auth_sent") {
        outcome = new HomeAssistantError(outcome.failure, outcome.message, outcome.retryAfterSeconds, true);
      }
      stage = "done";
      clearTimeout(timer);
      try {
        socket?.close(1000);
      } catch {
        // already closed
      }
      if (outcome instanceof HomeAssistantError) reject(outcome);
      else resolve(outcome.answer);
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
      if (stage === "done" || stage === "auth_rejected") return;
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
        if (command === undefined) {
          finish({ answer: undefined });
          return;
        }
        stage = "command_sent";
        socket.send(JSON.stringify({ id: 1, type: command }));
      } else if (stage === "auth_sent" && frame.type === "auth_invalid") {
        stage = "auth_rejected"; // settled by Home Assistant's close, which follows its count
      } else if (stage === "command_sent" && frame.id === 1 && frame.type === "result") {
        const error = frame.error as { code?: unknown; message?: unknown } | undefined;
        finish({
          answer:
            frame.success === true
              ? { success: true, result: frame.result }
              : { success: false, code: String(error?.code ?? "unknown_error"), message: String(error?.message ?? "") },
        });
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
