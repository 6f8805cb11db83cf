import { describe, expect, test } from "vitest";
import { HomeAssistantError } from "../../../worker/home-assistant/errors.js";
import { createIdentityLookup } from "../../../worker/home-assistant/identity-lookup.js";

const user = { id: "u1", name: "n", is_admin: false, is_owner: false };
const now = Date.now();
const exp = Math.floor(now / 1000) + 1800;

function lookupWith(answer: (token: string) => Promise<typeof user>, maxEntries = 100) {
  const calls: string[] = [];
  const lookup = createIdentityLookup({
    fetchUser: (t) => {
      calls.push(t);
      return answer(t);
    },
    maxEntries,
    maxCacheSeconds: 300,
  });
  return { lookup, calls };
}

describe("identity lookup", () => {
  test("100 concurrent lookups of one token ask Home Assistant once", async () => {
    const { lookup, calls } = lookupWith(() => new Promise((r) => setTimeout(() => r(user), 20)));
    const results = await Promise.all(Array.from({ length: 100 }, () => lookup.lookup("T", exp, now)));
    expect(results.every((u) => u === user)).toBe(true);
    expect(calls).toEqual(["T"]);
    expect(lookup.lookups).toBe(1);
  });

  test("an accepted token is reused until maxCacheSeconds, then asked again", async () => {
    const { lookup, calls } = lookupWith(async () => user);
    await lookup.lookup("T", exp, now);
    await lookup.lookup("T", exp, now + 299_000);
    expect(calls.length).toBe(1);
    await lookup.lookup("T", exp, now + 301_000);
    expect(calls.length).toBe(2);
  });

  test("a refused token is never sent again, even concurrently", async () => {
    const { lookup, calls } = lookupWith(async () => {
      throw new HomeAssistantError("rejected", "no");
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => lookup.lookup("BAD", exp, now)));
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    await expect(lookup.lookup("BAD", exp, now + 1000_000)).rejects.toMatchObject({ failure: "rejected" });
    expect(calls).toEqual(["BAD"]);
  });

  test("transient failures are not remembered, so service resumes when Home Assistant returns", async () => {
    let up = false;
    const { lookup, calls } = lookupWith(async () => {
      if (!up) throw new HomeAssistantError("unreachable", "down");
      return user;
    });
    await expect(lookup.lookup("T", exp, now)).rejects.toMatchObject({ failure: "unreachable" });
    up = true;
    await expect(lookup.lookup("T", exp, now)).resolves.toBe(user);
    expect(calls.length).toBe(2);
  });

  test("unexpected exceptions become a protocol failure, nothing escapes raw", async () => {
    const { lookup } = lookupWith(async () => {
      throw new TypeError("boom");
    });
    await expect(lookup.lookup("T", exp, now)).rejects.toBeInstanceOf(HomeAssistantError);
  });

  test("caches stay bounded under 100,000 distinct tokens", async () => {
    const { lookup } = lookupWith(async () => user, 1000);
    for (let i = 0; i < 100_000; i++) await lookup.lookup(`T${i}`, exp, now);
    expect(lookup.sizes.accepted).toBe(1000);
    expect(lookup.sizes.inFlight).toBe(0);
  });
});
