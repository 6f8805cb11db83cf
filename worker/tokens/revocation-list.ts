/**
 * The deny-list of signed-out sessions (by `jti`), consulted by /verify until the token
 * would have expired anyway. On Workers it lives in a KV namespace bound as
 * REVOKED_SESSIONS (global, eventually consistent: Cloudflare documents up to 60 s for
 * other locations to see a write); without that binding, and on Node, in memory
 * (per process / per isolate). Proxies that check the JWT natively cannot see this list.
 * An isolate reuses a "not revoked" answer from KV for 10 s (NOT_REVOKED_CACHE_MS).
 */
import { BoundedCache } from "../bounded-cache.js";

/** The part of Cloudflare's KVNamespace we use; typed here so the code stays Web-standard. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expiration?: number; expirationTtl?: number }): Promise<void>;
}

export interface RevocationList {
  readonly kind: "kv" | "memory";
  revoke(jti: string, expiresAt: number /* unix s */, nowMs: number): Promise<void>;
  isRevoked(jti: string, nowMs: number): Promise<boolean>;
}

export function memoryRevocationList(maxEntries: number): RevocationList {
  const revoked = new BoundedCache<string, true>(maxEntries);
  return {
    kind: "memory",
    async revoke(jti, expiresAt) {
      revoked.set(jti, true, expiresAt * 1000);
    },
    async isRevoked(jti, now) {
      return revoked.get(jti, now) === true;
    },
  };
}

// KV refuses expirations less than 60 s ahead.
const KV_MIN_TTL = 60;
/**
 * How long this isolate trusts a "not revoked" answer from KV. KV itself takes up to 60 s
 * to show a write in other locations, so 10 s more changes little, and it saves a KV read
 * on almost every /verify. Revocations made in this isolate count at once.
 */
const NOT_REVOKED_CACHE_MS = 10_000;

export function kvRevocationList(kv: KvNamespaceLike, maxEntries: number): RevocationList {
  // Also remembered locally, so this isolate sees its own revocations at once.
  const local = memoryRevocationList(maxEntries);
  const notRevoked = new BoundedCache<string, true>(maxEntries);
  return {
    kind: "kv",
    async revoke(jti, expiresAt, now) {
      await local.revoke(jti, expiresAt, now);
      const ttl = Math.max(KV_MIN_TTL, expiresAt - Math.floor(now / 1000));
      await kv.put(`revoked:${jti}`, "1", { expirationTtl: ttl });
    },
    async isRevoked(jti, now) {
      if (await local.isRevoked(jti, now)) return true;
      if (notRevoked.get(jti, now)) return false;
      const revoked = (await kv.get(`revoked:${jti}`)) !== null;
      if (!revoked) notRevoked.set(jti, true, now + NOT_REVOKED_CACHE_MS);
      return revoked;
    },
  };
}
