/**
 * "Who is this token?" with the guarantees Home Assistant's ip_ban needs, and no older
 * "yes" than `maxAnswerAgeSeconds` (HA_ANSWER_MAX_AGE) behind any new cookie:
 * - one lookup per token at a time (single flight), however many requests carry it;
 * - a token Home Assistant accepted is remembered for a burst of requests only: until
 *   `maxAnswerAgeSeconds` after its lookup started (or the token's expiry, if sooner);
 * - once Home Assistant refuses a token, no remembered "yes" for another token of the same
 *   Home Assistant session (same `iss`) given before that refusal is used again;
 * - a token Home Assistant refused is never sent again (remembered until it expires);
 * - every cache is bounded (CACHE_MAX_ENTRIES each).
 * Transient failures (unreachable, timeout, protocol) are not remembered, so service
 * resumes by itself when Home Assistant comes back.
 */
import { BoundedCache } from "../bounded-cache.js";
import { HA_LEEWAY_SECONDS } from "./access-token-precheck.js";
import type { GuardContext } from "./ban-guard.js";
import type { HomeAssistantUser } from "./current-user.js";
import { HomeAssistantError } from "./errors.js";

/** What the local pre-check read from the access token. */
export interface AccessTokenFacts {
  /** The Home Assistant session: the id of the refresh token the access token was made from. */
  issuer: string;
  /** The token's own exp (unix seconds). */
  expiresAt: number;
}

export interface IdentityLookup {
  /** `context` (who asks) is handed to fetchUser when the token has to go to Home Assistant (ban-guard.ts). */
  lookup(token: string, facts: AccessTokenFacts, nowMs: number, context?: GuardContext): Promise<HomeAssistantUser>;
  /** Lookups that actually went to Home Assistant (for tests and the benchmark). */
  readonly lookups: number;
  readonly sizes: { accepted: number; refused: number; inFlight: number; refusedSessions: number };
}

/** Long enough to outlive every "yes" given before a refusal: answer age plus the longest HA_TIMEOUT. */
const REFUSED_SESSION_MARGIN_MS = 60_000;

export function createIdentityLookup(options: {
  fetchUser: (token: string, context?: GuardContext) => Promise<HomeAssistantUser>;
  maxEntries: number;
  maxAnswerAgeSeconds: number;
}): IdentityLookup {
  // `lookup` numbers the lookup the answer came from (see refusedSessions).
  const accepted = new BoundedCache<string, { user: HomeAssistantUser; issuer: string; lookup: number }>(options.maxEntries);
  const refused = new BoundedCache<string, HomeAssistantError>(options.maxEntries);
  /**
   * Per session (`iss`): how many lookups had started when Home Assistant refused one of its
   * tokens. A "yes" from a lookup numbered at most that may predate the refusal. Counting
   * lookups instead of reading a clock keeps the order exact however answers interleave.
   */
  const refusedSessions = new BoundedCache<string, number>(options.maxEntries);
  // Bounded by the rate limiter and HA_TIMEOUT: an entry lives only while its lookup runs.
  const inFlight = new Map<string, Promise<HomeAssistantUser>>();
  let lookups = 0;
  const maxAgeMs = options.maxAnswerAgeSeconds * 1000;

  return {
    get lookups() {
      return lookups;
    },
    get sizes() {
      return { accepted: accepted.size, refused: refused.size, inFlight: inFlight.size, refusedSessions: refusedSessions.size };
    },
    async lookup(token, facts, now, context) {
      // Keyed by the token itself: a SHA-256 per request costs ~100 µs on Node's WebCrypto
      // (docs/benchmarks.md), and the token is in this process's memory during the request anyway.
      const key = token;
      const known = accepted.get(key, now);
      if (known) {
        const refusedAfter = refusedSessions.get(known.issuer, now);
        if (refusedAfter === undefined || known.lookup > refusedAfter) return known.user;
        accepted.delete(key);
      }
      const verdict = refused.get(key, now);
      if (verdict) throw verdict;
      const running = inFlight.get(key);
      if (running) return running;

      const number = ++lookups;
      const promise = options
        .fetchUser(token, context)
        .then(
          (user) => {
            const until = Math.min((facts.expiresAt + HA_LEEWAY_SECONDS) * 1000, now + maxAgeMs);
            accepted.set(key, { user, issuer: facts.issuer, lookup: number }, until);
            return user;
          },
          (error: unknown) => {
            const failure =
              error instanceof HomeAssistantError
                ? error
                : new HomeAssistantError("protocol", "Talking to Home Assistant failed unexpectedly.");
            if (failure.isVerdict) {
              // After its exp (+ leeway) the pre-check refuses the token anyway.
              refused.set(key, failure, (facts.expiresAt + HA_LEEWAY_SECONDS) * 1000);
              refusedSessions.set(facts.issuer, lookups, now + maxAgeMs + REFUSED_SESSION_MARGIN_MS);
            }
            throw failure;
          },
        )
        .finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      return promise;
    },
  };
}
