/**
 * "Who is this token?" with the guarantees Home Assistant's ip_ban needs:
 * - one lookup per token at a time (single flight), however many requests carry it;
 * - a token Home Assistant accepted is remembered until it expires or `maxCacheSeconds`;
 * - a token Home Assistant refused is never sent again (remembered until it expires);
 * - both caches are bounded (CACHE_MAX_ENTRIES each).
 * Transient failures (unreachable, timeout, protocol) are not remembered, so service
 * resumes by itself when Home Assistant comes back.
 */
import { BoundedCache } from "../bounded-cache.js";
import { HA_LEEWAY_SECONDS } from "./access-token-precheck.js";
import type { GuardContext } from "./ban-guard.js";
import type { HomeAssistantUser } from "./current-user.js";
import { HomeAssistantError } from "./errors.js";

export interface IdentityLookup {
  /**
   * `expiresAt` is the token's own exp (unix seconds), from the pre-check. `context` (who
   * asks) is handed to fetchUser when the token has to go to Home Assistant (ban-guard.ts).
   */
  lookup(token: string, expiresAt: number, nowMs: number, context?: GuardContext): Promise<HomeAssistantUser>;
  /** Lookups that actually went to Home Assistant (for tests and the benchmark). */
  readonly lookups: number;
  readonly sizes: { accepted: number; refused: number; inFlight: number };
}

export function createIdentityLookup(options: {
  fetchUser: (token: string, context?: GuardContext) => Promise<HomeAssistantUser>;
  maxEntries: number;
  maxCacheSeconds: number;
}): IdentityLookup {
  const accepted = new BoundedCache<string, HomeAssistantUser>(options.maxEntries);
  const refused = new BoundedCache<string, HomeAssistantError>(options.maxEntries);
  // Bounded by the rate limiter and HA_TIMEOUT: an entry lives only while its lookup runs.
  const inFlight = new Map<string, Promise<HomeAssistantUser>>();
  let lookups = 0;

  return {
    get lookups() {
      return lookups;
    },
    get sizes() {
      return { accepted: accepted.size, refused: refused.size, inFlight: inFlight.size };
    },
    async lookup(token, expiresAt, now, context) {
      // Keyed by the token itself: a SHA-256 per request costs ~100 µs on Node's WebCrypto
      // (docs/benchmarks.md), and the token is in this process's memory during the request anyway.
      const key = token;
      const known = accepted.get(key, now);
      if (known) return known;
      const verdict = refused.get(key, now);
      if (verdict) throw verdict;
      const running = inFlight.get(key);
      if (running) return running;

      lookups++;
      const promise = options
        .fetchUser(token, context)
        .then(
          (user) => {
            const until = Math.min((expiresAt + HA_LEEWAY_SECONDS) * 1000, now + options.maxCacheSeconds * 1000);
            accepted.set(key, user, until);
            return user;
          },
          (error: unknown) => {
            const failure =
              error instanceof HomeAssistantError
                ? error
                : new HomeAssistantError("protocol", "Talking to Home Assistant failed unexpectedly.");
            // After its exp (+ leeway) the pre-check refuses the token anyway.
            if (failure.isVerdict) refused.set(key, failure, (expiresAt + HA_LEEWAY_SECONDS) * 1000);
            throw failure;
          },
        )
        .finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      return promise;
    },
  };
}
