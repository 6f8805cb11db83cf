/**
 * A Map with a size bound and per-entry expiry, evicting the least recently used entry.
 * Every cache in the signer is one of these so that memory stays bounded whatever
 * clients send (see docs/architecture.md for the bound per cache).
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();
  /**
   * The key last moved to the end (by set, or by get's refresh): the most recent entry while
   * it is present. Moving it again would change nothing, and a Map delete + set costs a new
   * slot each time (V8 rebuilds the table every few of them); a client repeating one request
   * hits this in every cache it touches.
   */
  private newest: K | undefined;

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value if present and not expired at `now` (ms); refreshes its recency. */
  get(key: K, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    if (key !== this.newest) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.newest = key;
    }
    return entry.value;
  }

  /** The value if present and not expired at `now` (ms), without refreshing its recency (oldest-first eviction). */
  peek(key: K, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt > now) return entry?.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: K, value: V, expiresAt: number): void {
    const current = key === this.newest ? this.entries.get(key) : undefined;
    if (current) {
      // Already the most recent: updated where it is (entries never leave this class).
      current.value = value;
      current.expiresAt = expiresAt;
      return;
    }
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    this.newest = key;
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Every entry not expired at `now`, without touching recency (for listing, e.g. the deny-list feed). */
  *live(now: number): IterableIterator<[K, V]> {
    for (const [key, entry] of this.entries) if (entry.expiresAt > now) yield [key, entry.value];
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
