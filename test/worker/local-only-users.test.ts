/**
 * Issue 14, item 2: a local-only Home Assistant user never holds a cookie (a cookie works
 * from anywhere), whichever way Home Assistant answers: 2023.12 lets such a user's token
 * through WebSocket auth from any address; 2026.5+ refuses it from a non-local address only.
 * The signer reads local_only from config/auth/list with an administrator's HA_TOKEN.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type DoubleOptions, type HomeAssistantDouble } from "../ha-double/index.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner } from "../support/signer.js";

describe.each(RUNTIMES)("local-only users on %s", (runtime) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((x) => x.close()));
  });

  async function world(options: DoubleOptions, token: "admin" | "plain" | "none", extraEnv: Record<string, string> = {}) {
    const ha: HomeAssistantDouble = await startHomeAssistantDouble(options);
    open.push(ha);
    const admin = ha.addUser({ name: "Service", is_admin: true });
    const plain = ha.addUser({ name: "Service (no admin)", is_admin: false });
    const local = ha.addUser({ name: "Kid", is_admin: false, local_only: true });
    const normal = ha.addUser({ name: "Parent", is_admin: false });
    const env: Record<string, string> = { HA_URL: ha.url, SIGNING_KEY: await testSigningKey(), COOKIE_DOMAIN: ".example.com", HA_TIMEOUT: "1500" };
    if (token !== "none") env.HA_TOKEN = ha.longLivedToken((token === "admin" ? admin : plain).id);
    // The default (LOCAL_ONLY_CHECK unset = on) is what these tests are about.
    env.LOCAL_ONLY_CHECK = extraEnv.LOCAL_ONLY_CHECK ?? "on";
    const signer: RunningSigner = await startSigner(runtime, env);
    open.unshift(signer);
    const post = (userId: string) => fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(userId)}` } });
    const healthz = async () => ((await (await fetch(`${signer.url}/healthz`)).json()) as { local_only_check: Record<string, string> }).local_only_check;
    return { ha, local, normal, post, healthz };
  }

  async function expectRefused(response: Response, status: number, code: string) {
    const body = (await response.json()) as { error: string; message: string };
    expect({ status: response.status, error: body.error }).toEqual({ status, error: code });
    expect(response.headers.get("set-cookie")).toBeNull();
    return body;
  }

  test("2023.12 (WebSocket auth ignores local_only), seen from a remote address, admin HA_TOKEN: refused with user_local_only", async () => {
    const { ha, local, normal, post, healthz } = await world({ clientsAreRemote: true }, "admin");
    const body = await expectRefused(await post(local.id), 403, "user_local_only");
    expect(body.message).toMatch(/local network/);
    expect((await post(normal.id)).status).toBe(200);
    expect(ha.stats.userListRequests).toBe(1); // one copy of the list serves both (cached briefly)
    expect(ha.stats.failedLogins()).toBe(0);
    expect(await healthz()).toEqual({ status: "active" });
  });

  test("2023.12 from the local network: still refused (the cookie would work from anywhere)", async () => {
    const { local, post } = await world({}, "admin");
    await expectRefused(await post(local.id), 403, "user_local_only");
  });

  test("2026.5+ from a remote address: Home Assistant refuses the token itself (translation-key message, not parsed)", async () => {
    const { ha, local, normal, post } = await world({ behaviour: "2026.5", clientsAreRemote: true }, "admin");
    await expectRefused(await post(local.id), 401, "token_rejected");
    expect(ha.stats.failedLoginEvents.map((e) => e.reason)).toEqual(["ws: user_cannot_authenticate_remotely"]);
    expect((await post(normal.id)).status).toBe(200);
  });

  test("2026.5+ from the local network (the signer's usual place): refused with user_local_only", async () => {
    const { local, normal, post } = await world({ behaviour: "2026.5" }, "admin");
    await expectRefused(await post(local.id), 403, "user_local_only");
    expect((await post(normal.id)).status).toBe(200);
  });

  test("a user made local-only later is refused once the list copy is older than 10 s at most", async () => {
    const { ha, normal, post } = await world({}, "admin");
    expect((await post(normal.id)).status).toBe(200);
    ha.setUserLocalOnly(normal.id, true);
    // A new token is a new lookup; the list copy is at most HA_DIRECTORY_SECONDS old.
    await new Promise((r) => setTimeout(r, 10_100));
    await expectRefused(await post(normal.id), 403, "user_local_only");
  }, 20_000);

  test("HA_TOKEN of a non-administrator: the check is unavailable, so no cookie (503 local_only_check_unavailable), and /healthz says what to do", async () => {
    const { ha, local, normal, post, healthz } = await world({ clientsAreRemote: true }, "plain");
    for (const user of [local, normal]) {
      const body = await expectRefused(await post(user.id), 503, "local_only_check_unavailable");
      expect(body.message).toMatch(/administrator/);
      expect(body.message).toMatch(/LOCAL_ONLY_CHECK=off/);
    }
    expect(ha.stats.failedLogins()).toBe(0);
    expect(await healthz()).toMatchObject({ status: "unavailable", reason: expect.stringMatching(/not an administrator/), warning: expect.stringMatching(/No cookie is issued/) });
  });

  test("no HA_TOKEN: no cookie until the operator gives one or turns the check off", async () => {
    const { normal, post, healthz } = await world({}, "none");
    await expectRefused(await post(normal.id), 503, "local_only_check_unavailable");
    expect(await healthz()).toMatchObject({ status: "unavailable", reason: "HA_TOKEN is not set" });
  });

  test("LOCAL_ONLY_CHECK=off: the operator's choice; cookies are issued and /healthz keeps saying what that means", async () => {
    const { local, normal, post, healthz } = await world({ clientsAreRemote: true }, "none", { LOCAL_ONLY_CHECK: "off" });
    expect((await post(normal.id)).status).toBe(200);
    expect((await post(local.id)).status).toBe(200); // exactly what the operator turned the check off for
    expect(await healthz()).toMatchObject({ status: "unavailable", warning: expect.stringMatching(/LOCAL_ONLY_CHECK=off.*anywhere/) });
  });
});
