import { describe, expect, test } from "vitest";
import { HomeAssistantError } from "../../../worker/home-assistant/errors.js";
import { createIdentityLookup } from "../../../worker/home-assistant/identity-lookup.js";

const user = { id: "u1", name: "n", is_admin: false, is_owner: false };
const now = Date.now();
const exp = Math.floor(now / 1000) + 1800;
/** The pre-check's facts about a token of session S1 (its refresh-token id). */
const facts = { issuer: "a".repeat(32), expiresAt: exp };
const otherSession = { issuer: "b".repeat(32), expiresAt: exp };

function lookupWith(answer: (token: string) => Promise<typeof user>, maxEntries = 100, maxAnswerAgeSeconds = 10) {
  const calls: string[] = [];
  const lookup = createIdentityLookup({
    fetchUser: (t) => {
      calls.push(t);
      return answer(t);
    },
    maxEntries,
    maxAnswerAgeSeconds,
  });
  return { lookup, calls };
}

describe("identity lookup", () => {
  test("100 concurrent lookups of one token ask Home Assistant once", async () => {
    const { lookup, calls } = lookupWith(() => new Promise((r) => setTimeout(() => r(user), 20)));
    const results = await Promise.all(Array.from({ length: 100 }, () => lookup.lookup("T", facts, now)));
    expect(results.every((u) => u === user)).toBe(true);
    expect(calls).toEqual(["T"]);
    expect(lookup.lookups).toBe(1);
  });

  test("an accepted token is reused for HA_ANSWER_MAX_AGE after its lookup started, then asked again", async () => {
    const { lookup, calls } = lookupWith(async () => user);
    await lookup.lookup("T", facts, now);
    await lookup.lookup("T", facts, now + 9_999);
    expect(calls.length).toBe(1);
    await lookup.lookup("T", facts, now + 10_000);
    expect(calls.length).toBe(2);
    // The next answer counts from its own lookup.
    await lookup.lookup("T", facts, now + 19_999);
    expect(calls.length).toBe(2);
    await lookup.lookup("T", facts, now + 20_000);
    expect(calls.length).toBe(3);
  });

  test("an answer is never reused beyond the token's own expiry (+ Home Assistant's leeway)", async () => {
    const { lookup, calls } = lookupWith(async () => user, 100, 60);
    const soon = { ...facts, expiresAt: Math.floor(now / 1000) + 5 };
    await lookup.lookup("T", soon, now);
    await lookup.lookup("T", soon, (soon.expiresAt + 10) * 1000 - 1);
    expect(calls.length).toBe(1);
    await lookup.lookup("T", soon, (soon.expiresAt + 10) * 1000);
    expect(calls.length).toBe(2);
  });

  test("HA_ANSWER_MAX_AGE 0: no answer is reused, but concurrent requests still share one lookup", async () => {
    const { lookup, calls } = lookupWith(() => new Promise((r) => setTimeout(() => r(user), 20)), 100, 0);
    await Promise.all(Array.from({ length: 10 }, () => lookup.lookup("T", facts, now)));
    expect(calls.length).toBe(1);
    await lookup.lookup("T", facts, now);
    expect(calls.length).toBe(2);
  });

  test("once Home Assistant refuses a token, no earlier \"yes\" for another token of that session is reused", async () => {
    const refusedTokens = new Set<string>();
    const { lookup, calls } = lookupWith(async (t) => {
      if (refusedTokens.has(t)) throw new HomeAssistantError("rejected", "no");
      return user;
    });
    await lookup.lookup("T1", facts, now);
    await lookup.lookup("OTHER", otherSession, now);
    refusedTokens.add("T1").add("T2");
    await expect(lookup.lookup("T2", facts, now + 1)).rejects.toMatchObject({ failure: "rejected" });
    // T1's "yes" is 2 ms old, but older than the refusal: Home Assistant is asked again, and says no.
    await expect(lookup.lookup("T1", facts, now + 2)).rejects.toMatchObject({ failure: "rejected" });
    // Another session's answer is untouched.
    await expect(lookup.lookup("OTHER", otherSession, now + 3)).resolves.toBe(user);
    expect(calls).toEqual(["T1", "OTHER", "T2", "T1"]);
  });

  test("a \"yes\" given after the refusal is trusted again (e.g. the user was reactivated)", async () => {
    let refusing = true;
    const { lookup, calls } = lookupWith(async (t) => {
      if (refusing && t === "T2") throw new HomeAssistantError("inactive", "no");
      return user;
    });
    await expect(lookup.lookup("T2", facts, now)).rejects.toMatchObject({ failure: "inactive" });
    refusing = false;
    await lookup.lookup("T3", facts, now + 1);
    await lookup.lookup("T3", facts, now + 2);
    expect(calls).toEqual(["T2", "T3"]);
  });

  test("a \"yes\" from a lookup that was under way when the refusal arrived is not reused", async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const { lookup, calls } = lookupWith(async (t) => {
      if (t === "T1") {
        await slow;
        return user;
      }
      throw new HomeAssistantError("rejected", "no");
    });
    const pending = lookup.lookup("T1", facts, now);
    await expect(lookup.lookup("T2", facts, now)).rejects.toMatchObject({ failure: "rejected" });
    release();
    await expect(pending).resolves.toBe(user); // its waiters get the answer they asked for...
    await lookup.lookup("T1", facts, now + 1); // ...but the next request asks again
    expect(calls).toEqual(["T1", "T2", "T1"]);
  });

  test("a refused token is never sent again, even concurrently", async () => {
    const { lookup, calls } = lookupWith(async () => {
      throw new HomeAssistantError("rejected", "no");
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => lookup.lookup("BAD", facts, now)));
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    await expect(lookup.lookup("BAD", facts, now + 1000_000)).rejects.toMatchObject({ failure: "rejected" });
    expect(calls).toEqual(["BAD"]);
  });

  test("transient failures are not remembered, so service resumes when Home Assistant returns", async () => {
    let up = false;
    const { lookup, calls } = lookupWith(async () => {
      if (!up) throw new HomeAssistantError("unreachable", "down");
      return user;
    });
    await expect(lookup.lookup("T", facts, now)).rejects.toMatchObject({ failure: "unreachable" });
    up = true;
    await expect(lookup.lookup("T", facts, now)).resolves.toBe(user);
    expect(calls.length).toBe(2);
  });

  test("unexpected exceptions become a protocol failure, nothing escapes raw", async () => {
    const { lookup } = lookupWith(async () => {
      throw new TypeError("boom");
    });
    await expect(lookup.lookup("T", facts, now)).rejects.toBeInstanceOf(HomeAssistantError);
  });

  test("caches stay bounded under 100,000 distinct tokens", async () => {
    const { lookup } = lookupWith(async () => user, 1000);
    for (let i = 0; i < 100_000; i++) await lookup.lookup(`T${i}`, facts, now);
    expect(lookup.sizes.accepted).toBe(1000);
    expect(lookup.sizes.inFlight).toBe(0);
  });
});
