/**
 * The servers under test: the signer on Node and in workerd, each with the extra /bare
 * route beside the product's routes on the same server, configured against the Home
 * Assistant test double.
 */
import { serve } from "@hono/node-server";
import { Miniflare } from "miniflare";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { createApp } from "../../worker/app.js";
import { clientAddressOf } from "../../worker/node-server.js";
import type { RuntimeOptions } from "../../worker/runtime.js";
import { withBareRoute } from "./bare-app.js";
import { compatibilityDate } from "./build.js";

export interface BenchServer {
  name: string;
  url: string;
  close(): Promise<void>;
}

/**
 * The signer's settings for the benchmark: a rate limit that never trips, and the ban guard
 * (home-assistant/ban-guard.ts) opened wide, because part 4 sends 50 new tokens at once from
 * one address (the load generator) and the guard counts tokens still in flight as possible
 * rejections: with the defaults it lets 3 per client (HA_REJECTIONS_PER_CLIENT) and, without
 * HA_TOKEN, 2 in all (assumed threshold 3) reach Home Assistant at a time and answers the
 * rest 429/503, which is not what part 4 measures (lookups per token under concurrency).
 * HA_LOGIN_ATTEMPTS_THRESHOLD=off is Home Assistant's own default (it bans nobody); 1000 is
 * the largest per-client budget config.ts accepts. Everything else default.
 */
export function benchEnv(haUrl: string, signingKey: string): Record<string, string> {
  return { HA_URL: haUrl, SIGNING_KEY: signingKey, RATE_LIMIT: "1000000", LOCAL_ONLY_CHECK: "off", HA_LOGIN_ATTEMPTS_THRESHOLD: "off", HA_REJECTIONS_PER_CLIENT: "1000" };
}

/**
 * Like worker/node-server.ts's startNodeServer (same @hono/node-server, same client address
 * logic, the env object reused on every request), with the app wrapped by withBareRoute.
 */
export function startNodeBenchServer(env: Record<string, string>, options: RuntimeOptions = {}): Promise<BenchServer> {
  const addresses = new WeakMap<Request, string>();
  const app = withBareRoute(createApp({ ...options, clientAddress: (c) => addresses.get(c.req.raw) ?? "unknown" }));
  return new Promise((resolve) => {
    const server = serve(
      {
        fetch: (request, bindings) => {
          addresses.set(request, clientAddressOf(bindings.incoming as IncomingMessage, request.headers.get("X-Forwarded-For"), []));
          return app.fetch(request, env);
        },
        port: 0,
        hostname: "127.0.0.1",
      },
      (info: AddressInfo) =>
        resolve({
          name: "node",
          url: `http://127.0.0.1:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
              server.close(() => done());
            }),
        }),
    );
  });
}

/** The bench Worker bundle in workerd through Miniflare; `kv` binds REVOKED_SESSIONS as wrangler.toml does. */
export async function startWorkerdBenchServer(scriptPath: string, env: Record<string, string>, options: { kv: boolean }): Promise<BenchServer> {
  const mf = new Miniflare({
    ...(options.kv ? { kvNamespaces: ["REVOKED_SESSIONS"] } : {}),
    modules: true,
    scriptPath,
    // The bundle lives in a temporary directory; module names must not climb out of the root.
    modulesRoot: dirname(scriptPath),
    compatibilityDate: compatibilityDate(),
    bindings: env,
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).origin;
  return { name: options.kv ? "workerd" : "workerd (no KV)", url, close: () => mf.dispose() };
}
