/**
 * Starts the signer under test on loopback, in workerd (Miniflare running the bundle that
 * `wrangler deploy --dry-run` produced in global setup) or on Node (the same app served by
 * @hono/node-server in this process). Both give a base URL and a close().
 */
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startNodeServer } from "../../worker/node-server.js";
import { generateKeyPair } from "../../worker/tokens/keys.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

export type SignerRuntime = "workerd" | "node";
export const RUNTIMES: SignerRuntime[] = ["workerd", "node"];

export interface RunningSigner {
  url: string;
  runtime: SignerRuntime;
  close(): Promise<void>;
}

let sharedKey: string | undefined;
/** One PKCS#8 key per test process, generated at run time (never committed). */
export async function testSigningKey(): Promise<string> {
  sharedKey ??= (await generateKeyPair()).privatePem;
  return sharedKey;
}

function compatibilityDate(): string {
  const toml = readFileSync(`${root}/wrangler.toml`, "utf8");
  return /compatibility_date\s*=\s*"([^"]+)"/.exec(toml)![1]!;
}

export interface SignerOptions {
  port?: number;
  host?: string;
  /** workerd only: bind a (local, in-memory) KV namespace as REVOKED_SESSIONS, as wrangler.toml declares. Default true. */
  kv?: boolean;
  /** Node only: peers allowed to set X-Forwarded-For (TRUSTED_PROXIES). Default none. */
  trustedProxies?: string[];
  /**
   * workerd only: the origins Cloudflare would have behind gated hostnames (hostname ->
   * local http URL). The Worker's outbound fetches go through a second worker that sends a
   * request for such a hostname to its local origin, as Cloudflare sends a Worker's
   * same-zone subrequest to the origin; every other fetch (Home Assistant) goes out unchanged.
   */
  origins?: Record<string, string>;
}

export interface RunningWorkerdSigner extends RunningSigner {
  /** The REVOKED_SESSIONS namespace, as every Cloudflare location eventually sees it. */
  revokedSessions(): ReturnType<Miniflare["getKVNamespace"]>;
}

/** Stands in for Cloudflare's edge between the Worker and the origins of the gated hostnames. */
export const ORIGIN_ROUTER = `
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    const origin = JSON.parse(env.ORIGINS)[url.hostname.replace(/\\.$/, "")];
    if (origin === undefined) return fetch(request);
    const target = new URL(origin);
    url.protocol = target.protocol;
    url.host = target.host;
    return fetch(new Request(url, request));
  },
};
`;

/**
 * The signer refuses cookies while it cannot see Home Assistant's local-only users (that needs
 * an administrator's HA_TOKEN). Tests that are not about that run it as an operator who has no
 * local-only users and says so; test/worker/local-only-users.test.ts sets it itself and covers
 * the default. An env that sets LOCAL_ONLY_CHECK or HA_TOKEN keeps its own choice.
 */
function withOperatorChoices(env: Record<string, string>): Record<string, string> {
  return "LOCAL_ONLY_CHECK" in env || "HA_TOKEN" in env ? env : { LOCAL_ONLY_CHECK: "off", ...env };
}

export async function startWorkerdSigner(given: Record<string, string>, options: SignerOptions = {}): Promise<RunningWorkerdSigner> {
  const env = withOperatorChoices(given);
  const signer = {
    name: "jwt-cookie",
    ...(options.kv === false ? {} : { kvNamespaces: ["REVOKED_SESSIONS"] }),
    modules: true,
    scriptPath: `${root}/dist/worker/index.js`,
    compatibilityDate: compatibilityDate(),
    bindings: env,
  };
  const mf = new Miniflare({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    workers: options.origins
      ? [
          { ...signer, outboundService: "origin-router" },
          { name: "origin-router", modules: true, script: ORIGIN_ROUTER, compatibilityDate: compatibilityDate(), bindings: { ORIGINS: JSON.stringify(options.origins) } },
        ]
      : [signer],
  });
  const url = (await mf.ready).origin;
  return { url, runtime: "workerd", revokedSessions: () => mf.getKVNamespace("REVOKED_SESSIONS", "jwt-cookie"), close: () => mf.dispose() };
}

export async function startNodeSigner(given: Record<string, string>, options: SignerOptions = {}): Promise<RunningSigner> {
  const env = withOperatorChoices(given);
  const host = options.host ?? "127.0.0.1";
  const signer = await startNodeServer({ env, port: options.port ?? 0, host, trustedProxies: options.trustedProxies ?? [] });
  return { url: `http://${host}:${signer.port}`, runtime: "node", close: () => signer.close() };
}

export function startSigner(runtime: SignerRuntime, env: Record<string, string>, options: SignerOptions = {}): Promise<RunningSigner> {
  return runtime === "workerd" ? startWorkerdSigner(env, options) : startNodeSigner(env, options);
}
