/**
 * The deny-list of signed-out sessions (by `jti`), consulted by /verify until the token
 * would have expired anyway, and published to local verifiers as a feed (revocation-feed.ts).
 * On Workers it lives in a KV namespace bound as REVOKED_SESSIONS (global, eventually
 * consistent: Cloudflare documents up to 60 s for other locations to see a write); without
 * that binding, and on Node, in memory (per process / per isolate), which the Node entry can
 * back with a file (RevocationStore) so that a restart forgets nothing. Proxies that check
 * the JWT natively cannot see this list.
 * An isolate reuses a "not revoked" answer from KV for 10 s (NOT_REVOKED_CACHE_MS).
 */
import { BoundedCache } from "../bounded-cache.js";
import { feedPage, type FeedPosition, type RevocationFeedPage, type RevokedSession } from "./revocation-feed.js";
import { refusedFromMs } from "./verify.js";

/** The part of Cloudflare's KVNamespace we use; typed here so the code stays Web-standard. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expiration?: number; expirationTtl?: number }): Promise<void>;
}

/**
 * Durable storage for a memory list (the Node signer's DATA_DIR file). `append` resolves
 * only once the entry is on stable storage: /logout answers after it.
 */
export interface RevocationStore {
  /** Where it keeps the list, for /healthz and the log. */
  readonly description: string;
  append(entry: RevokedSession): Promise<void>;
}

export interface RevocationList {
  readonly kind: "kv" | "memory" | "file";
  revoke(jti: string, expiresAt: number /* unix s */, nowMs: number): Promise<void>;
  isRevoked(jti: string, nowMs: number): Promise<boolean>;
  /**
   * Grows with every sign-out this list records, so that an answer remembered from it
   * (checking/remembered-approvals.ts) is dropped on the very next request. undefined when
   * sign-outs can arrive without this process seeing them (KV: other isolates' writes);
   * then every "not revoked" must be asked for again.
   */
  version(): number | undefined;
  /** The feed for local verifiers: revocations after `since` (undefined: all that have not expired). */
  changesSince(since: FeedPosition | undefined, nowMs: number): Promise<RevocationFeedPage>;
}

export interface MemoryListOptions {
  /** Entries kept from before (the store's file), loaded again at start. */
  restored?: RevokedSession[];
  store?: RevocationStore;
}

export function memoryRevocationList(maxEntries: number, options: MemoryListOptions = {}): RevocationList & { live(nowMs: number): RevokedSession[] } {
  const revoked = new BoundedCache<string, RevokedSession>(maxEntries);
  // Kept while the token is still accepted (exp + leeway), not just until its exp.
  for (const entry of options.restored ?? []) revoked.set(entry.jti, entry, refusedFromMs(entry.exp));
  const live = (now: number) => [...revoked.live(now)].map(([, entry]) => entry);
  let version = 0;
  return {
    kind: options.store ? "file" : "memory",
    async revoke(jti, expiresAt, now) {
      if (revoked.get(jti, now)) return;
      const entry = { jti, exp: expiresAt, revokedAt: now };
      // Stored first: a revocation the caller acknowledges must survive a crash.
      await options.store?.append(entry);
      revoked.set(jti, entry, refusedFromMs(expiresAt));
      version++;
    },
    version: () => version,
    async isRevoked(jti, now) {
      return revoked.get(jti, now) !== undefined;
    },
    async changesSince(since, now) {
      return feedPage(live(now), since, now);
    },
    live,
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
/**
 * The feed reads one KV value, never list(): the Workers free plan allows 1,000 list
 * operations a day, and one verifier polling every 15 s asks 5,760 times. The value is
 * reused for INDEX_CACHE_MS within an isolate.
 */
export const REVOKED_INDEX_KEY = "revoked-index";
const INDEX_CACHE_MS = 2_000;

type IndexEntry = [jti: string, exp: number, revokedAt: number];

function parseIndex(text: string | null): RevokedSession[] {
  if (text === null) return [];
  try {
    const parsed = JSON.parse(text) as { entries?: unknown };
    if (!Array.isArray(parsed.entries)) return [];
    return parsed.entries
      .filter(
        (e): e is IndexEntry =>
          Array.isArray(e) && typeof e[0] === "string" && Number.isFinite(e[1]) && Number.isFinite(e[2]),
      )
      .map(([jti, exp, revokedAt]) => ({ jti, exp, revokedAt }));
  } catch {
    return [];
  }
}

export function kvRevocationList(kv: KvNamespaceLike, maxEntries: number): RevocationList {
  // Also remembered locally, so this isolate sees its own revocations at once.
  const local = memoryRevocationList(maxEntries);
  const notRevoked = new BoundedCache<string, true>(maxEntries);
  let cachedIndex: { entries: RevokedSession[]; until: number } | undefined;
  let indexWrites: Promise<void> = Promise.resolve();

  async function readIndex(now: number): Promise<RevokedSession[]> {
    if (cachedIndex && cachedIndex.until > now) return cachedIndex.entries;
    const entries = parseIndex(await kv.get(REVOKED_INDEX_KEY));
    cachedIndex = { entries, until: now + INDEX_CACHE_MS };
    return entries;
  }

  /**
   * Union by jti, unexpired only, the newest maxEntries revocations. A jti listed twice keeps
   * its latest feed position (one that was put back into the index, below).
   */
  function merge(nowMs: number, ...lists: RevokedSession[][]): RevokedSession[] {
    const byJti = new Map<string, RevokedSession>();
    for (const list of lists) {
      for (const e of list) {
        if (refusedFromMs(e.exp) <= nowMs) continue;
        const known = byJti.get(e.jti);
        if (!known || e.revokedAt > known.revokedAt) byJti.set(e.jti, e);
      }
    }
    return [...byJti.values()].sort((a, b) => b.revokedAt - a.revokedAt).slice(0, maxEntries);
  }

  /**
   * Read-modify-write of the index. KV has no compare-and-swap: two sign-outs at the same
   * moment in different isolates can each write an index without the other's entry. The
   * per-jti key stays authoritative for the signer's own /verify; for the feed, every write
   * merges all of this isolate's own revocations again, so a lost entry comes back with
   * the next write from the isolate that made it. It comes back at that write's time: a
   * verifier that kept polling has a cursor past its first position, and would skip it.
   * (A full index has dropped its oldest entries on purpose: those are not put back as new.)
   */
  function writeIndex(now: number): Promise<void> {
    const write = indexWrites.catch(() => undefined).then(async () => {
      const stored = parseIndex(await kv.get(REVOKED_INDEX_KEY));
      const inIndex = new Set(stored.map((e) => e.jti));
      const full = stored.length >= maxEntries;
      const ours = local.live(now).map((e) => (full || inIndex.has(e.jti) ? e : { ...e, revokedAt: Math.max(e.revokedAt, now) }));
      const entries = merge(now, ours, stored);
      const lastRefused = Math.max(...entries.map((e) => refusedFromMs(e.exp)));
      const ttl = Math.max(KV_MIN_TTL, Math.ceil((lastRefused - now) / 1000));
      await kv.put(REVOKED_INDEX_KEY, JSON.stringify({ entries: entries.map((e) => [e.jti, e.exp, e.revokedAt]) }), { expirationTtl: ttl });
      cachedIndex = { entries, until: now + INDEX_CACHE_MS };
    });
    indexWrites = write;
    return write;
  }

  return {
    kind: "kv",
    async revoke(jti, expiresAt, now) {
      await local.revoke(jti, expiresAt, now);
      const ttl = Math.max(KV_MIN_TTL, Math.ceil((refusedFromMs(expiresAt) - now) / 1000));
      await kv.put(`revoked:${jti}`, "1", { expirationTtl: ttl });
      await writeIndex(now);
    },
    async isRevoked(jti, now) {
      if (await local.isRevoked(jti, now)) return true;
      if (notRevoked.get(jti, now)) return false;
      const revoked = (await kv.get(`revoked:${jti}`)) !== null;
      if (!revoked) notRevoked.set(jti, true, now + NOT_REVOKED_CACHE_MS);
      return revoked;
    },
    // Another isolate's sign-out reaches this one only through KV: no version can tell.
    version: () => undefined,
    async changesSince(since, now) {
      return feedPage(merge(now, local.live(now), await readIndex(now)), since, now);
    },
  };
}
