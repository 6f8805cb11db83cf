/**
 * The ban guard on its own, with scripted Home Assistant answers: what it lets through, what it
 * holds back, and that concurrent sign-ins queue for a slot instead of failing.
 */
import { describe, expect, test } from "vitest";
import { createBanGuard, type BanGuardOptions } from "../../../worker/home-assistant/ban-guard.js";
import { HomeAssistantError } from "../../../worker/home-assistant/errors.js";

const quiet = () => undefined;
const anon = (client: string) => ({ client, trusted: false });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function guard(overrides: Partial<BanGuardOptions> = {}) {
  return createBanGuard({
    threshold: 3,
    rejectionsPerClient: 3,
    clientWindowSeconds: 600,
    maxClients: 100,
    credential: undefined,
    queueWaitMs: 2000,
    log: quiet,
    ...overrides,
  });
}

/** One scripted lookup: resolves "user" after `ms`, or rejects as Home Assistant's auth_invalid. */
const answer = (outcome: "ok" | "rejected", ms = 5) => async () => {
  await sleep(ms);
  if (outcome === "rejected") throw new HomeAssistantError("rejected", "auth_invalid");
  return "user";
};

async function failureOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof HomeAssistantError ? error.failure : String(error);
  }
}

describe("ban guard", () => {
  test("concurrent sign-ins with good tokens queue for the slot and all succeed; at most threshold-2 are at Home Assistant at once", async () => {
    const g = guard();
    let atOnce = 0;
    let most = 0;
    const ask = async () => {
      atOnce++;
      most = Math.max(most, atOnce);
      await sleep(5);
      atOnce--;
      return "user";
    };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => g.forward(anon(`10.0.0.${i}`), ask)));
    expect(results).toEqual(Array(20).fill("user"));
    expect(most).toBe(1); // threshold 3: 2 rejections in a row allowed, one kept for signed-in users
    expect(g.state.in_flight).toBe(0);
  });

  test("one client's concurrent good tokens queue too (a household behind one address)", async () => {
    const g = guard({ threshold: undefined });
    const results = await Promise.all(Array.from({ length: 10 }, () => g.forward(anon("192.0.2.1"), answer("ok"))));
    expect(results).toEqual(Array(10).fill("user"));
  });

  test("forged tokens: the anonymous budget is used, then new sign-ins are held back until a signed-in user's renewal succeeds", async () => {
    const g = guard();
    expect(await failureOf(g.forward(anon("a"), answer("rejected")))).toBe("rejected");
    expect(g.state.breaker_open).toBe(true);
    expect(await failureOf(g.forward(anon("b"), answer("ok")))).toBe("guard_held_back");
    // The slot kept for a signed-in user: its renewal is accepted, the count is back at zero.
    expect(await g.forward({ client: "c", trusted: true }, answer("ok"))).toBe("user");
    expect(g.state).toMatchObject({ consecutive_rejections: 0, breaker_open: false });
    expect(await g.forward(anon("b"), answer("ok"))).toBe("user");
  });

  test("never more rejections in a row than threshold - 1, whatever arrives at once", async () => {
    const g = guard({ threshold: 5, rejectionsPerClient: 1000 });
    let reachedHa = 0;
    const forged = async () => {
      reachedHa++;
      await sleep(3);
      throw new HomeAssistantError("rejected", "auth_invalid");
    };
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => failureOf(g.forward({ client: `x${i}`, trusted: i % 2 === 0 }, forged))));
    expect(reachedHa).toBeLessThanOrEqual(4);
    expect(outcomes.filter((o) => o === "rejected").length).toBe(reachedHa);
    expect(outcomes.every((o) => o === "rejected" || o === "guard_held_back")).toBe(true);
  });

  test("a client past its budget is refused at once (429 material) without reaching Home Assistant; others are not slowed", async () => {
    const g = guard({ threshold: undefined, rejectionsPerClient: 2 });
    await failureOf(g.forward(anon("evil"), answer("rejected")));
    await failureOf(g.forward(anon("evil"), answer("rejected")));
    let asked = false;
    const failure = await failureOf(
      g.forward(anon("evil"), async () => {
        asked = true;
        return "user";
      }),
    );
    expect({ failure, asked }).toEqual({ failure: "client_held_back", asked: false });
    expect(await g.forward(anon("good"), answer("ok"))).toBe("user");
  });

  test("a lookup that cannot get a slot within queueWaitMs is told to retry, not left hanging", async () => {
    const g = guard({ queueWaitMs: 50 });
    const slow = g.forward(anon("a"), answer("ok", 300));
    const started = Date.now();
    expect(await failureOf(g.forward(anon("b"), answer("ok")))).toBe("guard_held_back");
    expect(Date.now() - started).toBeLessThan(250);
    expect(await slow).toBe("user");
  });

  test("transient failures (unreachable, timeout) are not rejections", async () => {
    const g = guard();
    const down = async () => {
      throw new HomeAssistantError("unreachable", "down");
    };
    for (let i = 0; i < 5; i++) expect(await failureOf(g.forward(anon(`d${i}`), down))).toBe("unreachable");
    expect(g.state).toMatchObject({ consecutive_rejections: 0, breaker_open: false });
  });

  test("a token Home Assistant got but did not answer counts as the rejection it may have been", async () => {
    const g = guard();
    const unanswered = async () => {
      throw new HomeAssistantError("timeout", "no answer after the auth message", undefined, true);
    };
    expect(await failureOf(g.forward(anon("a"), unanswered))).toBe("timeout");
    expect(g.state).toMatchObject({ consecutive_rejections: 1, breaker_open: true });
    expect(await failureOf(g.forward(anon("b"), answer("ok")))).toBe("guard_held_back");
    // A signed-in user's accepted renewal closes it again.
    expect(await g.forward({ client: "c", trusted: true }, answer("ok"))).toBe("user");
    expect(g.state).toMatchObject({ consecutive_rejections: 0, breaker_open: false });
  });
});

describe("ban guard with HA_TOKEN", () => {
  /** A scripted HA_TOKEN: each authentication takes the next outcome (the last one repeats). */
  function credential(outcomes: Array<"ok" | "unanswered" | "unreachable">) {
    let calls = 0;
    const next = async () => {
      const outcome = outcomes[Math.min(calls++, outcomes.length - 1)];
      await sleep(2);
      if (outcome === "unanswered") throw new HomeAssistantError("timeout", "no answer after the auth message", undefined, true);
      if (outcome === "unreachable") throw new HomeAssistantError("unreachable", "down");
    };
    return {
      get calls() {
        return calls;
      },
      authenticate: next,
      command: async () => {
        await next();
        return { success: true as const, result: [] };
      },
    };
  }

  test("an HA_TOKEN authentication Home Assistant got but did not answer counts as the rejection it may have been", async () => {
    const service = credential(["unanswered", "ok"]);
    const g = guard({ threshold: 5, credential: service });
    expect(await failureOf(g.forward(anon("a"), answer("rejected")))).toBe("rejected");
    // The forged token, and the reset that may have been refused too (a revoked HA_TOKEN at a slow Home Assistant).
    expect(g.state.consecutive_rejections).toBe(2);
  });

  test("a reset that failed is tried again before a sign-in is held back: the breaker does not stay open while HA_TOKEN works", async () => {
    const service = credential(["ok", "unreachable", "ok"]);
    const g = guard({ threshold: 3, credential: service });
    expect(await g.forward(anon("warm-up"), answer("ok"))).toBe("user");
    await g.serviceCommand("config/auth/list"); // HA_TOKEN known to work
    expect(await failureOf(g.forward(anon("a"), answer("rejected")))).toBe("rejected");
    // The reset after that rejection failed (Home Assistant unreachable for a moment): the count stands.
    expect(g.state).toMatchObject({ consecutive_rejections: 1, breaker_open: true });
    // The next sign-in has the signer reset first, instead of waiting for a signed-in user's renewal.
    expect(await g.forward(anon("b"), answer("ok"))).toBe("user");
    expect(g.state).toMatchObject({ consecutive_rejections: 0, breaker_open: false });
    expect(service.calls).toBe(3);
  });
});
