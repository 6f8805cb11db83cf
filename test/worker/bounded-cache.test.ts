import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { BoundedCache } from "../../worker/bounded-cache.js";

/** The documented behaviour, written plainly: an array from least to most recently used. */
class ReferenceCache {
  entries: Array<{ key: string; value: number; expiresAt: number }> = [];
  constructor(readonly maxEntries: number) {}
  private index(key: string) {
    return this.entries.findIndex((e) => e.key === key);
  }
  get(key: string, now: number) {
    const i = this.index(key);
    if (i < 0) return undefined;
    const [entry] = this.entries.splice(i, 1);
    if (entry!.expiresAt <= now) return undefined;
    this.entries.push(entry!);
    return entry!.value;
  }
  peek(key: string, now: number) {
    const i = this.index(key);
    if (i < 0) return undefined;
    if (this.entries[i]!.expiresAt > now) return this.entries[i]!.value;
    this.entries.splice(i, 1);
    return undefined;
  }
  set(key: string, value: number, expiresAt: number) {
    const i = this.index(key);
    if (i >= 0) this.entries.splice(i, 1);
    this.entries.push({ key, value, expiresAt });
    while (this.entries.length > this.maxEntries) this.entries.shift();
  }
  delete(key: string) {
    const i = this.index(key);
    if (i >= 0) this.entries.splice(i, 1);
  }
  live(now: number) {
    return this.entries.filter((e) => e.expiresAt > now).map((e) => [e.key, e.value]);
  }
}

const key = fc.constantFrom("a", "b", "c");
const op = fc.oneof(
  fc.record({ op: fc.constant("get" as const), key, now: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ op: fc.constant("peek" as const), key, now: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ op: fc.constant("set" as const), key, value: fc.integer(), expiresAt: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ op: fc.constant("delete" as const), key }),
  fc.record({ op: fc.constant("clear" as const) }),
);

describe("BoundedCache", () => {
  // Guards the shortcut for the most recent key (no reordering for a key that is already last,
  // set in place): answers, eviction order and expiry stay those of a plain LRU with expiry.
  test("answers, evicts and expires exactly like a least-recently-used list", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const cache = new BoundedCache<string, number>(max);
        let model = new ReferenceCache(max);
        for (const o of ops) {
          if (o.op === "get") expect(cache.get(o.key, o.now)).toBe(model.get(o.key, o.now));
          else if (o.op === "peek") expect(cache.peek(o.key, o.now)).toBe(model.peek(o.key, o.now));
          else if (o.op === "set") {
            cache.set(o.key, o.value, o.expiresAt);
            model.set(o.key, o.value, o.expiresAt);
          } else if (o.op === "delete") {
            cache.delete(o.key);
            model.delete(o.key);
          } else {
            cache.clear();
            model = new ReferenceCache(max);
          }
          expect([...cache.live(0)]).toEqual(model.live(0));
          expect(cache.size).toBe(model.entries.length);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("setting the most recent key again replaces its value and expiry", () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set("a", 1, 100);
    cache.set("a", 2, 10);
    expect(cache.get("a", 5)).toBe(2);
    expect(cache.get("a", 10)).toBeUndefined();
    cache.set("a", 3, 100);
    cache.set("b", 4, 100);
    expect(cache.get("b", 0)).toBe(4);
    cache.set("c", 5, 100); // evicts the least recently used: a
    expect([...cache.live(0)]).toEqual([["b", 4], ["c", 5]]);
  });
});
