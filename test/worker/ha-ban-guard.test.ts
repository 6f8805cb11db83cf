/**
 * Issue 13: a stranger must not get the signer banned at Home Assistant. Against the double
 * with login_attempts_threshold 3, in workerd (client = CF-Connecting-IP) and on Node
 * (client = X-Forwarded-For from a trusted proxy): 20 well-formed forged tokens from 5
 * client addresses, then a real user's token from a sixth.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../ha-double/index.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner, type SignerRuntime } from "../support/signer.js";
import { fakeHaToken } from "../support/tokens.js";

const FORGERS = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"];
const REAL_USER = "198.51.100.6";

/** A well-formed forgery: HS256, 32-hex iss, future exp, random key; passes the local pre-check. */
function forgedToken(i: number): string {
  return fakeHaToken({ iss: i.toString(16).padStart(32, "0"), key: `forger-${i}-${Math.random()}` });
}

function clientHeaders(runtime: SignerRuntime, address: string): Record<string, string> {
  return runtime === "workerd" ? { "CF-Connecting-IP": address } : { "X-Forwarded-For": address };
}

describe.each(RUNTIMES)("ban guard on %s", (runtime) => {
  let ha: HomeAssistantDouble;
  let user: DoubleUser;
  let serviceUser: DoubleUser;
  const signers: RunningSigner[] = [];

  beforeAll(async () => {
    ha = await startHomeAssistantDouble({ loginAttemptsThreshold: 3 });
    user = ha.addUser({ name: "Real", is_admin: false });
    serviceUser = ha.addUser({ name: "jwt-cookie", username: "jwt-cookie", is_admin: false });
  });
  afterEach(async () => {
    await Promise.all(signers.splice(0).map((s) => s.close()));
    ha.unbanAll();
    ha.resetStats();
  });
  afterAll(async () => {
    await ha.close();
  });

  async function signer(extra: Record<string, string> = {}): Promise<RunningSigner> {
    const s = await startSigner(
      runtime,
      // HA_TOKEN here is a dedicated non-admin user's (issue 13's set-up), so the local-only check
      // (which needs an administrator, test/worker/local-only-users.test.ts) is turned off.
      { HA_URL: ha.url, SIGNING_KEY: await testSigningKey(), COOKIE_DOMAIN: ".example.com", HA_TIMEOUT: "1500", RATE_LIMIT: "1000", LOCAL_ONLY_CHECK: "off", ...extra },
      { trustedProxies: ["127.0.0.1"] },
    );
    signers.push(s);
    return s;
  }

  const post = (s: RunningSigner, token: string, address: string, cookie?: string) =>
    fetch(`${s.url}/session`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, ...clientHeaders(runtime, address), ...(cookie ? { Cookie: cookie } : {}) },
    });
  const healthz = async (s: RunningSigner) => ((await (await fetch(`${s.url}/healthz`)).json()) as { ha_guard: Record<string, unknown> }).ha_guard;

  /** Sends 4 forged tokens from each of 5 addresses (20), round robin; returns the answers. */
  async function forgeryWave(s: RunningSigner): Promise<Array<{ address: string; status: number; error: string; retryAfter: string | null; cookie: string | null }>> {
    const answers = [];
    for (let round = 0; round < 4; round++) {
      for (const [n, address] of FORGERS.entries()) {
        const response = await post(s, forgedToken(round * 10 + n), address);
        const body = (await response.json()) as { error: string };
        answers.push({ address, status: response.status, error: body.error, retryAfter: response.headers.get("retry-after"), cookie: response.headers.get("set-cookie") });
      }
    }
    return answers;
  }

  test("with HA_TOKEN: each rejection is followed by a reset; nobody is banned, forgers past their budget never reach HA, the real user gets a cookie", async () => {
    const s = await signer({ HA_TOKEN: ha.longLivedToken(serviceUser.id), HA_REJECTIONS_PER_CLIENT: "3" });
    ha.resetStats();
    const answers = await forgeryWave(s);
    expect(answers.every((a) => a.cookie === null)).toBe(true);
    // Rounds 1-3: Home Assistant rejects them; round 4: the signer refuses them itself.
    expect(answers.slice(0, 15).map((a) => a.error)).toEqual(Array(15).fill("token_rejected"));
    expect(answers.slice(15).map((a) => [a.status, a.error])).toEqual(Array(5).fill([429, "too_many_rejected_tokens"]));
    expect(answers.slice(15).every((a) => Number(a.retryAfter) > 0)).toBe(true);
    expect(ha.stats.failedLoginEvents).toHaveLength(15); // Home Assistant saw the forgers' first 3 each, not the 4th
    expect(ha.stats.authMessages).toBe(15 + 15); // 15 forged + 15 resets with HA_TOKEN
    expect(ha.stats.bannedAddresses()).toEqual([]);
    expect(ha.stats.failedLogins("127.0.0.1")).toBe(0); // the last reset brought the count back to zero

    const real = await post(s, ha.accessToken(user.id), REAL_USER);
    expect(real.status).toBe(200);
    expect(real.headers.get("set-cookie")).toMatch(/^jwt_access_token=/);
    expect(ha.stats.bannedAddresses()).toEqual([]);
    expect(await healthz(s)).toMatchObject({ mode: "service_token", service_token: "ok", breaker_open: false, consecutive_rejections: 0, assumed_threshold: 3 });
  });

  test("without HA_TOKEN (breaker): at most threshold-1 rejections in a row reach HA; a signed-in user's renewal still works and closes the breaker", async () => {
    const s = await signer(); // HA_LOGIN_ATTEMPTS_THRESHOLD unset: assumed 3
    // The real user signed in before the attack.
    const first = await post(s, ha.accessToken(user.id), REAL_USER);
    expect(first.status).toBe(200);
    const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
    ha.resetStats();

    const answers = await forgeryWave(s);
    expect(answers.every((a) => a.cookie === null)).toBe(true);
    // One anonymous rejection is let through; the last slot (threshold - 1 = 2) is kept for signed-in users.
    expect(answers[0]).toMatchObject({ status: 401, error: "token_rejected" });
    expect(answers.slice(1).map((a) => [a.status, a.error])).toEqual(Array(19).fill([503, "ha_ban_guard"]));
    expect(answers.slice(1).every((a) => a.retryAfter === "30")).toBe(true);
    expect(ha.stats.authMessages).toBe(1);
    expect(ha.stats.failedLogins("127.0.0.1")).toBe(1);
    expect(ha.stats.bannedAddresses()).toEqual([]);
    const open = await healthz(s);
    expect(open).toMatchObject({ mode: "breaker", breaker_open: true, consecutive_rejections: 1, service_token: "none" });
    expect(open.message).toMatch(/HA_TOKEN/);

    // A stranger's new token from a sixth address waits; the message says what to configure.
    const stranger = await post(s, ha.accessToken(user.id), "192.0.2.99");
    expect(stranger.status).toBe(503);
    expect(((await stranger.json()) as { message: string }).message).toMatch(/HA_TOKEN/);

    // The signed-in user renews with a fresh Home Assistant token: accepted, count back to 0.
    const renewal = await post(s, ha.accessToken(user.id), REAL_USER, cookie);
    expect(renewal.status).toBe(200);
    expect(renewal.headers.get("set-cookie")).toMatch(/^jwt_access_token=/);
    expect(ha.stats.failedLogins("127.0.0.1")).toBe(0);
    expect(ha.stats.bannedAddresses()).toEqual([]);
    expect(await healthz(s)).toMatchObject({ breaker_open: false, consecutive_rejections: 0 });
    // ... and new sign-ins work again.
    expect((await post(s, ha.accessToken(user.id), "192.0.2.99")).status).toBe(200);
  });

  test("a signed-in user's rejected token uses the last slot, and the signer then stops short of the threshold", async () => {
    const s = await signer({ HA_REJECTIONS_PER_CLIENT: "100" });
    const first = await post(s, ha.accessToken(user.id), REAL_USER);
    const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
    ha.resetStats();
    expect((await post(s, forgedToken(1), FORGERS[0]!)).status).toBe(401);
    expect((await post(s, forgedToken(2), REAL_USER, cookie)).status).toBe(401);
    // Home Assistant's count is 2 = threshold - 1: nothing unknown may go there now, not even a signed-in user's.
    expect((await post(s, ha.accessToken(user.id), REAL_USER, cookie)).status).toBe(503);
    expect(ha.stats.failedLogins("127.0.0.1")).toBe(2);
    expect(ha.stats.bannedAddresses()).toEqual([]);
  });

  test("HA_LOGIN_ATTEMPTS_THRESHOLD=off: no breaker, only the per-client budget", async () => {
    const s = await signer({ HA_LOGIN_ATTEMPTS_THRESHOLD: "off", HA_REJECTIONS_PER_CLIENT: "2" });
    ha.resetStats();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(s, forgedToken(i), FORGERS[0]!)).status);
    statuses.push((await post(s, forgedToken(9), FORGERS[1]!)).status);
    expect(statuses).toEqual([401, 401, 429, 401]);
    expect(ha.stats.authMessages).toBe(3);
    expect(await healthz(s)).toMatchObject({ mode: "off", breaker_open: false, assumed_threshold: null });
  });

  test("an IPv6 client is one client per /64: a new address for each forged token gets no new budget", async () => {
    const s = await signer({ HA_LOGIN_ATTEMPTS_THRESHOLD: "off", HA_REJECTIONS_PER_CLIENT: "2" });
    ha.resetStats();
    const statuses = [];
    for (const address of ["2001:db8:7:7::1", "2001:db8:7:7::2", "2001:db8:7:7:ffff::3"]) {
      statuses.push((await post(s, forgedToken(statuses.length + 50), address)).status);
    }
    statuses.push((await post(s, forgedToken(59), "2001:db8:7:8::1")).status); // another /64
    expect(statuses).toEqual([401, 401, 429, 401]);
    expect(ha.stats.authMessages).toBe(3);
  });

  test("a client whose token is accepted starts again from zero", async () => {
    const s = await signer({ HA_LOGIN_ATTEMPTS_THRESHOLD: "off", HA_REJECTIONS_PER_CLIENT: "2" });
    expect((await post(s, forgedToken(1), REAL_USER)).status).toBe(401);
    expect((await post(s, ha.accessToken(user.id), REAL_USER)).status).toBe(200);
    expect((await post(s, forgedToken(2), REAL_USER)).status).toBe(401);
    expect((await post(s, ha.accessToken(user.id), REAL_USER)).status).toBe(200);
  });

  test("a rejected HA_TOKEN is reported loudly and never used again; the breaker then protects", async () => {
    const ha5 = await startHomeAssistantDouble({ loginAttemptsThreshold: 5 });
    try {
      const service = ha5.addUser({ name: "jwt-cookie", is_admin: false });
      const revoked = ha5.longLivedToken(service.id);
      ha5.revokeRefreshToken(JSON.parse(Buffer.from(revoked.split(".")[1]!, "base64url").toString()).iss);
      const s = await signer({ HA_URL: ha5.url, HA_TOKEN: revoked, HA_LOGIN_ATTEMPTS_THRESHOLD: "5", HA_REJECTIONS_PER_CLIENT: "100" });
      expect((await post(s, forgedToken(1), FORGERS[0]!)).status).toBe(401); // count 1, then the reset fails: 2
      const state = await healthz(s);
      expect(state).toMatchObject({ service_token: "rejected", mode: "breaker", consecutive_rejections: 2 });
      expect(state.message).toMatch(/HA_TOKEN was rejected/);
      expect(ha5.stats.authMessages).toBe(2);
      // threshold 5: anonymous clients may bring the count to 3, signed-in users to 4, never 5.
      expect((await post(s, forgedToken(2), FORGERS[1]!)).status).toBe(401);
      expect((await post(s, forgedToken(3), FORGERS[2]!)).status).toBe(503);
      expect(ha5.stats.authMessages).toBe(3); // no second try with the rejected HA_TOKEN
      expect(ha5.stats.failedLogins("127.0.0.1")).toBe(3);
      expect(ha5.stats.bannedAddresses()).toEqual([]);
    } finally {
      await Promise.all(signers.splice(0).map((x) => x.close()));
      await ha5.close();
    }
  });

  test("a forged token that Home Assistant answers too late still counts: a slow Home Assistant cannot be walked into a ban", async () => {
    // Every frame 400 ms late: auth_required comes at ~800 ms, the token goes out, and the signer
    // gives up (HA_TIMEOUT 1000) before auth_invalid arrives; Home Assistant has counted it all the same.
    const s = await signer({ HA_TIMEOUT: "1000", HA_REJECTIONS_PER_CLIENT: "100" });
    ha.resetStats();
    ha.setFault({ kind: "slow", delayMs: 400 });
    try {
      const answers = [];
      for (let i = 0; i < 5; i++) {
        const response = await post(s, forgedToken(100 + i), FORGERS[i % FORGERS.length]!);
        answers.push([response.status, ((await response.json()) as { error: string }).error]);
      }
      expect(answers[0]).toEqual([504, "ha_timeout"]);
      // Counted as the rejection it may be: the breaker holds the rest back before Home Assistant's threshold.
      expect(answers.slice(1)).toEqual(Array(4).fill([503, "ha_ban_guard"]));
      expect(ha.stats.authMessages).toBe(1);
    } finally {
      ha.setFault({ kind: "none" });
    }
    expect(ha.stats.bannedAddresses()).toEqual([]);
    expect(await healthz(s)).toMatchObject({ breaker_open: true, consecutive_rejections: 1 });
  });

  test("with HA_TOKEN and a slow reverse DNS at Home Assistant: the reset waits for the count, so forged tokens in quick succession get nobody banned", async () => {
    // Home Assistant counts a WebSocket auth_invalid only after looking up the sender's host
    // name, then closes. A reset that overtook that count would leave it standing unseen.
    const slowDns = await startHomeAssistantDouble({ loginAttemptsThreshold: 3, failedLoginDelayMs: 300 });
    try {
      const service = slowDns.addUser({ name: "jwt-cookie", is_admin: false });
      const real = slowDns.addUser({ name: "Real", is_admin: false });
      const s = await signer({ HA_URL: slowDns.url, HA_TOKEN: slowDns.longLivedToken(service.id), HA_REJECTIONS_PER_CLIENT: "100" });
      for (let i = 0; i < 4; i++) expect((await post(s, forgedToken(200 + i), FORGERS[i]!)).status).toBe(401);
      await new Promise((resolve) => setTimeout(resolve, 400)); // anything still to be counted has landed
      expect(slowDns.stats.failedLoginEvents).toHaveLength(4);
      expect(slowDns.stats.bannedAddresses()).toEqual([]);
      expect(slowDns.stats.failedLogins("127.0.0.1")).toBe(0); // the last reset came after the last count
      expect((await post(s, slowDns.accessToken(real.id), REAL_USER)).status).toBe(200);
    } finally {
      await Promise.all(signers.splice(0).map((x) => x.close()));
      await slowDns.close();
    }
  });

  test("failed-login counts: 0 for locally rejectable tokens, 1 for a single forged token", async () => {
    const s = await signer();
    ha.resetStats();
    const now = Math.floor(Date.now() / 1000);
    for (const t of [fakeHaToken({ exp: now - 3600 }), fakeHaToken({ alg: "HS512" }), fakeHaToken({ iss: "x" }), "a.b.c", "e30.e30.e30"]) {
      expect((await post(s, t, FORGERS[0]!)).status).toBeGreaterThanOrEqual(400);
    }
    expect(ha.stats.failedLogins()).toBe(0);
    expect(ha.stats.wsConnections).toBe(0);
    expect((await post(s, forgedToken(1), FORGERS[0]!)).status).toBe(401);
    expect(ha.stats.failedLogins()).toBe(1);
  });
});
