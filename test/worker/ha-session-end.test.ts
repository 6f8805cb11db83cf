/**
 * Issue 12, end to end in workerd and on Node against the Home Assistant double: once Home
 * Assistant ends a session (sign-out, a session deleted on the profile page, a deactivated
 * user), the signer mints no new cookie for it after HA_ANSWER_MAX_AGE (1 s here), and the
 * cookies it issued for that session are refused by /verify.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../ha-double/index.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner } from "../support/signer.js";
import { fakeHaToken } from "../support/tokens.js";

const ANSWER_MAX_AGE_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Past HA_ANSWER_MAX_AGE, and past a whole second so that a refreshed access token differs (its iat). */
const pastTheBound = () => sleep(ANSWER_MAX_AGE_MS + 150);
const issuerOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { iss: string }).iss;

describe.each(RUNTIMES)("Home Assistant ends a session, signer on %s", (runtime) => {
  let ha: HomeAssistantDouble;
  let signer: RunningSigner;
  let bystander: DoubleUser;

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    bystander = ha.addUser({ name: "Bystander" });
    signer = await startSigner(runtime, {
      HA_URL: ha.url,
      SIGNING_KEY: await testSigningKey(),
      COOKIE_SECURE: "false",
      RATE_LIMIT: "1000",
      HA_ANSWER_MAX_AGE: "1",
      // This file ends sessions on purpose; the ban guard (test/worker/ha-ban-guard.test.ts) is not under test here.
      HA_LOGIN_ATTEMPTS_THRESHOLD: "off",
      HA_REJECTIONS_PER_CLIENT: "1000",
    });
  });
  afterAll(async () => {
    await signer.close();
    await ha.close();
  });

  async function session(token: string) {
    const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    const body = (await response.json()) as { error?: string };
    const setCookie = response.headers.get("set-cookie");
    return { status: response.status, error: body.error, setCookie, cookie: setCookie?.split(";")[0] };
  }
  async function signIn(token: string): Promise<string> {
    const result = await session(token);
    expect(result.status).toBe(200);
    return result.cookie!;
  }
  const verify = async (cookie: string) => (await fetch(`${signer.url}/verify`, { headers: { Cookie: cookie } })).status;
  /** What Home Assistant's frontend does every half hour: a new access token for the same refresh token (same iss). */
  async function refreshedAccessToken(refreshToken: string): Promise<string> {
    const response = await fetch(`${ha.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: `${ha.url}/` }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }
  function expectRefused(result: Awaited<ReturnType<typeof session>>, status: number, error: string) {
    expect({ status: result.status, error: result.error, setCookie: result.setCookie }).toEqual({ status, error, setCookie: null });
  }

  test("sign-out in Home Assistant (/auth/revoke): within HA_ANSWER_MAX_AGE no new cookie, and every cookie of that session is refused", async () => {
    const user = ha.addUser({ name: "Leaving" });
    const refresh = ha.createRefreshToken(user.id);
    const first = await refreshedAccessToken(refresh.token);
    const firstCookie = await signIn(first);
    await pastTheBound();
    const second = await refreshedAccessToken(refresh.token);
    expect(issuerOf(second)).toBe(issuerOf(first));
    const secondCookie = await signIn(second);
    expect(secondCookie).not.toBe(firstCookie);
    const otherCookie = await signIn(ha.accessToken(bystander.id));
    // Another session of the same user (another device) is not this session.
    const otherDeviceCookie = await signIn(ha.accessToken(user.id));

    ha.resetStats();
    expect((await fetch(`${ha.url}/auth/revoke`, { method: "POST", body: new URLSearchParams({ token: refresh.token }) })).status).toBe(200);
    await pastTheBound();

    // A copy of the first access token (not expired yet) gets nothing any more...
    expectRefused(await session(first), 401, "token_rejected");
    // ...and both cookies of that session stop working at /verify.
    expect(await verify(firstCookie)).toBe(401);
    expect(await verify(secondCookie)).toBe(401);
    expect(await verify(otherCookie)).toBe(200);
    expect(await verify(otherDeviceCookie)).toBe(200);
    // Asking again costs Home Assistant nothing: one failed login per refused token.
    expectRefused(await session(first), 401, "token_rejected");
    expectRefused(await session(second), 401, "token_rejected");
    expectRefused(await session(second), 401, "token_rejected");
    expect(ha.stats.authMessages).toBe(2);
    expect(ha.stats.failedLogins()).toBe(2);
  });

  test("a session deleted on the profile page (refresh token removed): a stolen access token mints nothing, its cookie is refused", async () => {
    const user = ha.addUser({ name: "Victim" });
    const stolen = ha.accessToken(user.id);
    const cookie = await signIn(stolen);
    expect(await verify(cookie)).toBe(200);
    ha.resetStats();
    ha.revokeRefreshToken(issuerOf(stolen)); // what auth/delete_refresh_token does
    await pastTheBound();
    expectRefused(await session(stolen), 401, "token_rejected");
    expect(await verify(cookie)).toBe(401);
    expect(ha.stats.failedLogins()).toBe(1);
  });

  test("a deactivated user: no new cookie, the cookie issued before is refused (Home Assistant 2023.12 says only auth_invalid, so 401 token_rejected)", async () => {
    const user = ha.addUser({ name: "Deactivated" });
    const token = ha.accessToken(user.id);
    const cookie = await signIn(token);
    ha.resetStats();
    ha.setUserActive(user.id, false);
    await pastTheBound();
    expectRefused(await session(token), 401, "token_rejected");
    expect(await verify(cookie)).toBe(401);
    expectRefused(await session(token), 401, "token_rejected");
    expect(ha.stats.failedLogins()).toBe(1);
  });

  test("a deactivated user, with an administrator's HA_TOKEN: 403 user_inactive (the user list tells it from a revoked session), the cookie issued before is refused", async () => {
    const service = ha.addUser({ name: "jwt-cookie service", is_admin: true });
    const withList = await startSigner(runtime, {
      HA_URL: ha.url,
      SIGNING_KEY: await testSigningKey(),
      COOKIE_SECURE: "false",
      RATE_LIMIT: "1000",
      HA_ANSWER_MAX_AGE: "1",
      HA_TOKEN: ha.longLivedToken(service.id),
    });
    try {
      const user = ha.addUser({ name: "Deactivated with a list" });
      const token = ha.accessToken(user.id);
      const first = await fetch(`${withList.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
      expect(first.status).toBe(200);
      const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
      ha.resetStats();
      ha.setUserActive(user.id, false);
      await pastTheBound();
      const refused = await fetch(`${withList.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
      expect({ status: refused.status, error: ((await refused.json()) as { error: string }).error }).toEqual({ status: 403, error: "user_inactive" });
      expect(refused.headers.get("set-cookie")).toBeNull();
      expect((await fetch(`${withList.url}/verify`, { headers: { Cookie: cookie } })).status).toBe(401);
      // One failed login for the one refused token (HA_TOKEN's auth_ok then brings HA's consecutive count back to 0).
      expect(ha.stats.failedLoginEvents.length).toBe(1);
      expect(ha.stats.failedLogins()).toBe(0);
      // A revoked session of an active user stays a plain token_rejected.
      const other = ha.addUser({ name: "Signed out elsewhere" });
      const otherToken = ha.accessToken(other.id);
      const otherFirst = await fetch(`${withList.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${otherToken}` } });
      expect(otherFirst.status, await otherFirst.clone().text()).toBe(200);
      ha.revokeRefreshToken(issuerOf(otherToken));
      await pastTheBound();
      const rejected = await fetch(`${withList.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${otherToken}` } });
      expect({ status: rejected.status, error: ((await rejected.json()) as { error: string }).error }).toEqual({ status: 401, error: "token_rejected" });
    } finally {
      await withList.close();
    }
  });

  test("a refused token the signer never saw accepted ends nothing, even with the session's iss", async () => {
    const user = ha.addUser({ name: "Target" });
    const token = ha.accessToken(user.id);
    const cookie = await signIn(token);
    expectRefused(await session(fakeHaToken({ iss: issuerOf(token) })), 401, "token_rejected");
    expect(await verify(cookie)).toBe(200);
    expect((await session(token)).status).toBe(200);
  });

  test("signing out (POST /logout) with the current cookie revokes the cookies its session got before, not other sessions", async () => {
    const user = ha.addUser({ name: "Renewing" });
    const refresh = ha.createRefreshToken(user.id);
    const before = await signIn(await refreshedAccessToken(refresh.token));
    await pastTheBound();
    const current = await signIn(await refreshedAccessToken(refresh.token));
    const otherDevice = await signIn(ha.accessToken(user.id));
    expect(await verify(before)).toBe(200);
    expect((await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: current } })).status).toBe(200);
    expect(await verify(current)).toBe(401);
    expect(await verify(before)).toBe(401);
    expect(await verify(otherDevice)).toBe(200);
    // The Home Assistant session itself goes on: "Sign in to services" works again.
    expect(await verify(await signIn(await refreshedAccessToken(refresh.token)))).toBe(200);
  });

  test("a Home Assistant answer is reused for HA_ANSWER_MAX_AGE only; within it, the same cookie comes back", async () => {
    const token = ha.accessToken(bystander.id);
    ha.resetStats();
    const first = await signIn(token);
    expect(await signIn(token)).toBe(first); // the reuse window: same JWT, no new lifetime
    expect(ha.stats.authMessages).toBe(1);
    await pastTheBound();
    await signIn(token);
    expect(ha.stats.authMessages).toBe(2);
  });
});
