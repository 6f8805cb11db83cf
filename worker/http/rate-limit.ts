/**
 * A token bucket per client address (RATE_LIMIT requests a minute, bursts up to that many).
 * It protects Home Assistant's failed-login counter from a client that loops, and the
 * signer from floods. The table of addresses is bounded.
 */
import { BoundedCache } from "../bounded-cache.js";

export interface RateLimiter {
  /** 0 when the request may go ahead, otherwise the seconds to wait. */
  take(address: string, nowMs: number): number;
}

export function createRateLimiter(perMinute: number, maxAddresses: number): RateLimiter {
  const buckets = new BoundedCache<string, { tokens: number; updated: number }>(maxAddresses);
  const refillPerMs = perMinute / 60_000;
  return {
    take(address, now) {
      const bucket = buckets.get(address, now) ?? { tokens: perMinute, updated: now };
      bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updated) * refillPerMs);
      bucket.updated = now;
      // A full bucket refills in a minute; forget the address after that.
      let wait = 0;
      if (bucket.tokens >= 1) bucket.tokens -= 1;
      else wait = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
      buckets.set(address, bucket, now + 60_000);
      return wait;
    },
  };
}
