/**
 * Everything around a proxy under test: the Home Assistant double with an admin and a plain
 * user, the signer (workerd or Node) on a known loopback port, the echo upstream, and real
 * cookies from POST /session. The signer is configured the way the docs describe a home
 * setup: COOKIE_DOMAIN .example.test, PUBLIC_URL http://auth.example.test:<port>, one
 * admin-only host in ACCESS_RULES.
 */
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../../ha-double/index.js";
import { startSigner, startWorkerdSigner, testSigningKey, type RunningSigner, type RunningWorkerdSigner, type SignerRuntime } from "../../support/signer.js";
import { cookieFromSetCookie } from "./http-client.js";
import { freePort } from "./processes.js";
import { startEchoUpstream, type EchoUpstream } from "./upstream.js";

export const OPEN_HOST = "grafana.example.test";
export const ADMIN_HOST = "admin.example.test";
export const COOKIE_NAME = "jwt_access_token";

export interface World {
  ha: HomeAssistantDouble;
  signer: RunningSigner;
  upstream: EchoUpstream;
  /** The signer's settings as environment variables (the generator reads the same). */
  env: Record<string, string>;
  publicUrl: string;
  signingKey: string;
  admin: DoubleUser;
  user: DoubleUser;
  /** A fresh cookie value from POST /session for this user. */
  cookieFor(user: DoubleUser): Promise<string>;
  /** POST /logout with this cookie, as the sign-in page or the panel does. */
  logout(cookie: string): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(runtime: SignerRuntime, extraEnv: Record<string, string> = {}): Promise<World> {
  return buildWorld(extraEnv, (env, port) => startSigner(runtime, env, { port, host: "127.0.0.1" }));
}

/**
 * The same world with the Worker (in workerd) as the gate for OPEN_HOST and ADMIN_HOST, whose
 * origin is the echo upstream, and for the hostnames in `moreOrigins` (hostname -> local
 * URL). One Worker, one port, one KV namespace: signer and gate, as on Cloudflare.
 */
export async function startGateWorld(
  moreOrigins: Record<string, string> = {},
  extraEnv: Record<string, string> = {},
): Promise<World & { signer: RunningWorkerdSigner }> {
  let gate: RunningWorkerdSigner | undefined;
  const world = await buildWorld(extraEnv, async (env, port, upstream) => {
    const origins = { [OPEN_HOST]: upstream.url, [ADMIN_HOST]: upstream.url, ...moreOrigins };
    gate = await startWorkerdSigner({ GATED_HOSTS: Object.keys(origins).join(","), ...env }, { port, host: "127.0.0.1", origins });
    return gate;
  });
  return { ...world, signer: gate! };
}

async function buildWorld(
  extraEnv: Record<string, string>,
  start: (env: Record<string, string>, port: number, upstream: EchoUpstream) => Promise<RunningSigner>,
): Promise<World> {
  const ha = await startHomeAssistantDouble();
  const admin = ha.addUser({ name: "Ada Admin", username: "ada", password: "ada-password", is_admin: true });
  const user = ha.addUser({ name: "Bob Ünïcode", username: "bob", password: "bob-password", is_admin: false });
  const signerPort = await freePort();
  const publicUrl = `http://auth.example.test:${signerPort}`;
  const signingKey = await testSigningKey();
  const env = {
    HA_URL: ha.url,
    SIGNING_KEY: signingKey,
    COOKIE_DOMAIN: ".example.test",
    COOKIE_SECURE: "false",
    PUBLIC_URL: publicUrl,
    ACCESS_RULES: JSON.stringify({ [ADMIN_HOST]: { roles: ["admin"] } }),
    ...extraEnv,
  };
  const upstream = await startEchoUpstream();
  const signer = await start(env, signerPort, upstream);

  return {
    ha,
    signer,
    upstream,
    env,
    publicUrl,
    signingKey,
    admin,
    user,
    async cookieFor(who) {
      const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(who.id)}` } });
      const cookie = cookieFromSetCookie(response.headers, COOKIE_NAME);
      if (response.status !== 200 || !cookie) throw new Error(`POST /session gave ${response.status}: ${await response.text()}`);
      return cookie;
    },
    async logout(cookie) {
      const response = await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
      const cleared = cookieFromSetCookie(response.headers, COOKIE_NAME);
      if (response.status !== 200 || cleared !== "") throw new Error(`POST /logout gave ${response.status} without clearing the cookie`);
    },
    async close() {
      await Promise.allSettled([signer.close(), upstream.close(), ha.close()]);
    },
  };
}
