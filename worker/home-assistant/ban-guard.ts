/**
 * Keeps Home Assistant from banning the signer's address (http: login_attempts_threshold).
 *
 * Home Assistant counts failed logins per source address, consecutively, resets the count on
 * a WebSocket auth_ok from that address, and bans the address for good at the threshold. A
 * forged token of the right shape can only be told apart by Home Assistant, so everything the
 * signer sends there is accounted for here:
 * - per client address, the tokens Home Assistant rejected: a client that reached
 *   HA_REJECTIONS_PER_CLIENT gets no new token forwarded for HA_REJECTION_WINDOW (429);
 *   a client whose token is accepted starts again from zero;
 * - for the signer's own address, the rejections since the last auth_ok it saw (plus the
 *   attempts still in flight, which may all turn out to be rejections): never more than
 *   threshold - 1. Anonymous clients may use all but one of those; the last one is kept for
 *   clients that hold a valid session cookie, whose renewal (an auth_ok) brings the count
 *   back to zero. When the budget is used up, new tokens are held back (503, "breaker open");
 * - with HA_TOKEN, right after every rejection the signer authenticates with it (single
 *   flight), which brings Home Assistant's count back to zero, so the breaker rarely opens.
 * A token Home Assistant got without answering in time (HomeAssistantError.unanswered) counts as
 * a rejection: Home Assistant may have refused it after the signer stopped waiting. So does an
 * unanswered HA_TOKEN that has not worked yet. A sign-in the breaker would hold back first
 * retries a reset that failed (once, and never as the attempt that could ban).
 * Attempts still under way count as possible rejections, so the budget also caps how many
 * new tokens are at Home Assistant at once; a lookup that finds only in-flight attempts in its
 * way waits (up to queueWaitMs) for one to settle instead of failing.
 * The counts live in this process (on Workers: this isolate); see docs/self-hosting.md.
 */
import { BoundedCache } from "../bounded-cache.js";
import { HomeAssistantError } from "./errors.js";
import type { ServiceCredential } from "./service-credential.js";
import type { CommandAnswer } from "./websocket-exchange.js";

/** Who is asking: the client's address, and whether it holds a valid session cookie of ours. */
export interface GuardContext {
  client: string;
  trusted: boolean;
}

export interface BanGuardOptions {
  /** Home Assistant's login_attempts_threshold as the signer assumes it; undefined: HA bans nobody. */
  threshold: number | undefined;
  rejectionsPerClient: number;
  clientWindowSeconds: number;
  maxClients: number;
  credential: ServiceCredential | undefined;
  /**
   * How long a lookup may wait for an in-flight one to settle when only attempts still under
   * way (not rejections) fill the budget: concurrent sign-ins queue instead of failing. Lookups
   * settle within HA_TIMEOUT, so that is the natural bound.
   */
  queueWaitMs: number;
  log?: (level: "info" | "warn" | "error", message: string) => void;
}

export type ServiceTokenState = "none" | "unverified" | "ok" | "rejected";

export interface BanGuardState {
  mode: "service_token" | "breaker" | "off";
  assumed_threshold: number | null;
  consecutive_rejections: number;
  in_flight: number;
  breaker_open: boolean;
  service_token: ServiceTokenState;
  rejections_seen: number;
  clients_tracked: number;
  message: string;
}

export interface BanGuard {
  /** Runs `ask` (one authentication at Home Assistant with a user's token) if that is safe. */
  forward<T>(context: GuardContext, ask: () => Promise<T>): Promise<T>;
  /** One command with HA_TOKEN, accounted like any other authentication. */
  serviceCommand(type: string): Promise<CommandAnswer>;
  readonly state: BanGuardState;
}

/** How long a held-back anonymous sign-in is told to wait; the breaker closes on any auth_ok. */
export const BREAKER_RETRY_SECONDS = 30;

interface ClientRecord {
  rejections: number;
  until: number; // ms: the record (and any hold) ends then
}

/**
 * How often a queued lookup looks again for a free slot. Polling, not a shared promise: on
 * Workers a promise created in one request and settled from another is not safe to await.
 */
const QUEUE_POLL_MS = 10;

export function createBanGuard(options: BanGuardOptions): BanGuard {
  const { threshold, rejectionsPerClient, credential } = options;
  const windowMs = options.clientWindowSeconds * 1000;
  const log = options.log ?? ((level, message) => console[level](`[jwt-cookie] ${message}`));
  const clients = new BoundedCache<string, ClientRecord>(options.maxClients);
  // Rejections that may follow HA's last auth_ok from our address, as far as we know.
  let consecutive = 0;
  let pending = 0;
  let rejectionsSeen = 0;
  let serviceToken: ServiceTokenState = credential ? "unverified" : "none";
  let resetting: Promise<void> | undefined;
  let wasOpen = false;

  /** Rejections (and in-flight attempts) allowed before the next auth_ok. */
  const limitFor = (trusted: boolean): number => {
    if (threshold === undefined) return Number.POSITIVE_INFINITY;
    const all = threshold - 1;
    return trusted || all < 2 ? all : all - 1;
  };
  const isOpen = () => consecutive >= limitFor(false);

  function noteTransition(): void {
    const open = isOpen();
    if (open === wasOpen) return;
    wasOpen = open;
    if (open) log("warn", `Home Assistant ban guard: breaker open. ${breakerMessage()}`);
    else log("info", "Home Assistant ban guard: breaker closed (Home Assistant accepted a login from the signer's address).");
  }

  function breakerMessage(): string {
    const fix =
      serviceToken === "rejected"
        ? "HA_TOKEN was rejected by Home Assistant: replace it with a valid long-lived access token of a dedicated user."
        : credential
          ? "HA_TOKEN will bring the count back to zero as soon as it may be used."
          : "Configure HA_TOKEN (a long-lived access token of a dedicated Home Assistant user) so the signer can reset the count itself, or set HA_LOGIN_ATTEMPTS_THRESHOLD=off if Home Assistant does not ban (see the docs on login_attempts_threshold).";
    return `Home Assistant has rejected ${consecutive} access token(s) in a row from the signer's address; with HA_LOGIN_ATTEMPTS_THRESHOLD=${threshold} one more could make it ban the signer, so new sign-ins wait until a signed-in user renews a session. ${fix}`;
  }

  /** `since`: rejectionsSeen when the attempt started; rejections settled after that may postdate its auth_ok. */
  function accepted(since: number): void {
    consecutive = Math.min(consecutive, rejectionsSeen - since);
    noteTransition();
    if (consecutive > 0) scheduleReset();
  }

  function rejected(): void {
    consecutive++;
    rejectionsSeen++;
    noteTransition();
  }

  /** Authenticates with HA_TOKEN (counted like any attempt); throws what the exchange throws. */
  async function withServiceToken<T>(run: () => Promise<T>): Promise<T> {
    const since = rejectionsSeen;
    pending++;
    try {
      const result = await run();
      if (serviceToken !== "ok") log("info", "HA_TOKEN works: the signer can reset Home Assistant's failed-login count for its address.");
      serviceToken = "ok";
      accepted(since);
      return result;
    } catch (error) {
      if (error instanceof HomeAssistantError && error.failure === "rejected") {
        serviceToken = "rejected";
        log("error", "HA_TOKEN was REJECTED by Home Assistant (revoked, expired or of another installation): the signer can no longer reset Home Assistant's failed-login count. Replace HA_TOKEN with a valid long-lived access token.");
        rejected();
      } else if (error instanceof HomeAssistantError && error.unanswered && serviceToken !== "ok") {
        // An HA_TOKEN not known to work, sent but not answered: it may have been refused and counted.
        rejected();
      }
      throw error;
    } finally {
      pending--;
    }
  }

  /** An HA_TOKEN whose use could be the rejection that bans is not tried. */
  function serviceTokenUsable(): boolean {
    if (!credential || serviceToken === "rejected") return false;
    return serviceToken === "ok" || threshold === undefined || consecutive + pending < threshold - 1;
  }

  function scheduleReset(): void {
    if (resetting || !serviceTokenUsable()) return;
    resetting = withServiceToken(() => credential!.authenticate())
      .catch(() => undefined) // logged above when it matters; a transient failure leaves the count as it is
      .finally(() => {
        resetting = undefined;
      });
  }

  return {
    async forward(context, ask) {
      const deadline = Date.now() + options.queueWaitMs;
      let record: ClientRecord | undefined;
      let now: number;
      let retriedReset = false;
      for (;;) {
        if (resetting) await resetting;
        now = Date.now();
        record = clients.get(context.client, now);
        if (record && record.rejections >= rejectionsPerClient) {
          const wait = Math.max(1, Math.ceil((record.until - now) / 1000));
          throw new HomeAssistantError(
            "client_held_back",
            `Home Assistant rejected ${record.rejections} access token(s) from this address; the signer forwards no new ones from it for ${wait} s, so that Home Assistant does not ban the signer. Sign in to Home Assistant again for a fresh token, then retry.`,
            wait,
          );
        }
        const limit = limitFor(context.trusted);
        if (consecutive >= limit) {
          // The reset after the last rejection failed (Home Assistant unreachable or slow a moment):
          // try it again rather than wait for a signed-in user's renewal, unless it could be the
          // attempt that bans.
          if (!retriedReset && (threshold === undefined || consecutive + pending < threshold - 1)) {
            retriedReset = true;
            scheduleReset();
            if (resetting) {
              await resetting;
              continue;
            }
          }
          throw new HomeAssistantError("guard_held_back", breakerMessage(), BREAKER_RETRY_SECONDS);
        }
        // A client's own attempts in flight do not hold it back (a household behind one address
        // signs in at once); what keeps Home Assistant's count below its threshold is this cap.
        if (consecutive + pending < limit) break;
        // Only attempts still in flight are in the way: wait for one to settle.
        if (now >= deadline) {
          throw new HomeAssistantError("guard_held_back", "Too many sign-ins are waiting for Home Assistant at once; try again in a moment.", 1);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(QUEUE_POLL_MS, deadline - now)));
      }
      record ??= { rejections: 0, until: now + windowMs };
      clients.set(context.client, record, Math.max(record.until, now + windowMs));
      const since = rejectionsSeen;
      pending++;
      let outcome: "accepted" | "rejected" | "inconclusive" = "inconclusive";
      try {
        const result = await ask();
        outcome = "accepted";
        return result;
      } catch (error) {
        // A token Home Assistant got but did not answer in time may have been a failed login there:
        // counted as one until an auth_ok says otherwise, or a slow Home Assistant could be led into a ban.
        if (error instanceof HomeAssistantError && (error.failure === "rejected" || error.unanswered)) outcome = "rejected";
        throw error;
      } finally {
        pending--;
        if (outcome === "accepted") {
          accepted(since);
          clients.delete(context.client); // accepted: this client starts again from zero
        } else if (outcome === "rejected") {
          rejected();
          record.rejections++;
          record.until = Date.now() + windowMs;
          clients.set(context.client, record, record.until);
          // The rejected client waits for the reset: its answer leaves with the count back at zero.
          scheduleReset();
          if (resetting) await resetting;
        }
      }
    },

    async serviceCommand(type) {
      if (!credential) throw new HomeAssistantError("protocol", "HA_TOKEN is not configured.");
      if (resetting) await resetting;
      if (!serviceTokenUsable()) {
        throw new HomeAssistantError(
          "guard_held_back",
          serviceToken === "rejected" ? "HA_TOKEN was rejected by Home Assistant; replace it." : breakerMessage(),
          BREAKER_RETRY_SECONDS,
        );
      }
      return withServiceToken(() => credential.command(type));
    },

    get state() {
      const mode: BanGuardState["mode"] = credential && serviceToken !== "rejected" ? "service_token" : threshold !== undefined ? "breaker" : "off";
      const open = threshold !== undefined && isOpen();
      const problem = serviceToken === "rejected" ? "HA_TOKEN was rejected by Home Assistant: replace it with a valid long-lived access token. " : "";
      const message =
        problem +
        (mode === "off"
          ? "HA_LOGIN_ATTEMPTS_THRESHOLD=off: the signer assumes Home Assistant bans nobody; only the per-client budget applies."
          : open
            ? breakerMessage()
            : mode === "service_token"
              ? "After every rejected token the signer authenticates with HA_TOKEN, which resets Home Assistant's failed-login count for its address."
              : `The signer lets at most ${threshold! - 1} rejected tokens in a row reach Home Assistant (HA_LOGIN_ATTEMPTS_THRESHOLD=${threshold}); configure HA_TOKEN so a stranger cannot pause new sign-ins.`);
      return {
        mode,
        assumed_threshold: threshold ?? null,
        consecutive_rejections: consecutive,
        in_flight: pending,
        breaker_open: open,
        service_token: serviceToken,
        rejections_seen: rejectionsSeen,
        clients_tracked: clients.size,
        message,
      };
    },
  };
}
