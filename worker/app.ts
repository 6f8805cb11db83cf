/**
 * Builds the signer: one Hono app, the same on Cloudflare Workers and on Node (and, on
 * Workers, the gate for the hostnames in GATED_HOSTS). The
 * runtime (settings, keys, caches) is built from the platform's env on first use and
 * reused; a bad configuration answers 500 "misconfigured" everywhere and signs nothing.
 */
import { Hono } from "hono";
import { getPath } from "hono/utils/url";
import type { Env } from "./config.js";
import { gate, gatedHost } from "./gate/gate.js";
import { answerErrorsAsJson, HttpError } from "./http/errors.js";
import { FRONTEND_BUNDLE_PATH, frontendBundleRoutes } from "./routes/frontend-bundle.js";
import { checkPolicyRoutes } from "./routes/check-policy.js";
import { healthRoutes } from "./routes/health.js";
import { keyRoutes } from "./routes/keys.js";
import { loginRoutes } from "./routes/login.js";
import { logoutRoutes } from "./routes/logout.js";
import { revocationRoutes } from "./routes/revocations.js";
import { sessionRoutes } from "./routes/session.js";
import { verifyRoutes } from "./routes/verify.js";
import { buildRuntime, type AppEnv, type ClientAddress, type RuntimeOptions, type RuntimeResult } from "./runtime.js";

export interface AppOptions extends RuntimeOptions {
  clientAddress: ClientAddress;
}

/** What the platforms call: Workers' default export, @hono/node-server, the tests. */
export type SignerApp = Pick<Hono<AppEnv>, "fetch">;

/** Only string settings identify a configuration; bindings (KV, assets) do not change it. */
function fingerprint(env: Env): string {
  return JSON.stringify(
    Object.entries(env)
      .filter(([, v]) => typeof v === "string")
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

export function createApp(options: AppOptions): SignerApp {
  const byObject = new WeakMap<object, Promise<RuntimeResult>>();
  // Once built, the runtime is taken without an await on every later request (hot path).
  const ready = new WeakMap<object, RuntimeResult>();
  const byFingerprint = new Map<string, Promise<RuntimeResult>>();

  function runtimeFor(env: Env): Promise<RuntimeResult> {
    const known = byObject.get(env);
    if (known) return known;
    const print = fingerprint(env);
    let result = byFingerprint.get(print);
    if (!result) {
      result = buildRuntime(env, options).then((r) => {
        // Logged once per configuration, not once per request.
        if (!r.ok) console.error(`[jwt-cookie] ${r.message}`);
        return r;
      });
      if (byFingerprint.size >= 8) byFingerprint.clear();
      byFingerprint.set(print, result);
    }
    byObject.set(env, result);
    void result.then((r) => ready.set(env, r));
    return result;
  }

  const app = new Hono<AppEnv>();

  answerErrorsAsJson(app, "signer");

  // One runtime lookup per request. The role comes first: a request for a gated hostname
  // (GATED_HOSTS) is the gate's, on every path, and never reaches a signer route (its
  // /session, /login, /verify... belong to the service behind it). Everything else is the
  // signer's. A bad configuration answers 500 everywhere except the static bundle, so the
  // panel can still load and say what is wrong.
  app.use("*", async (c, next) => {
    const env = c.env ?? {};
    const result = ready.get(env) ?? (await runtimeFor(env));
    if (!result.ok) {
      if (c.req.path === FRONTEND_BUNDLE_PATH) return next();
      throw new HttpError(500, "misconfigured", result.message);
    }
    c.set("runtime", result.runtime);
    const host = gatedHost(c.req.url, result.runtime.settings);
    if (host !== undefined) return gate(c, host);
    await next();
  });
  app.route("/", frontendBundleRoutes());
  app.route("/", sessionRoutes(options.clientAddress));
  app.route("/", logoutRoutes());
  app.route("/", verifyRoutes());
  app.route("/", loginRoutes());
  app.route("/", keyRoutes());
  app.route("/", checkPolicyRoutes());
  app.route("/", revocationRoutes());
  app.route("/", healthRoutes());
  app.get("/", (c) =>
    c.json({
      service: "jwt-cookie signer",
      endpoints: [
        "POST /session",
        "GET /session",
        "POST /logout",
        "GET /logout?rd=",
        "GET /verify",
        "GET /login?rd=",
        "GET /jwt-cookie.js",
        "GET /.well-known/jwks.json",
        "GET /public-key.pem",
        "GET /.well-known/jwt-cookie.json",
        "GET /revocations?since=",
        "GET /healthz",
      ],
    }),
  );
  // The hot path, GET /verify (a proxy asks it for every request of a page): once the runtime
  // is built and valid, and the host is not gated, the route runs on its own, without the
  // middleware above, so that a remembered approval is answered without a promise (Hono's
  // composition of middleware is always async). Same route, same check, same error answers;
  // the first requests, a bad configuration and gated hosts go through `app` as before.
  const verifyApp = verifyRoutes({ runtimeOf: (c) => (ready.get(c.env ?? {}) as Extract<RuntimeResult, { ok: true }>).runtime });
  answerErrorsAsJson(verifyApp, "signer");
  return {
    fetch: (request, env, executionCtx) => {
      const result = env === undefined ? undefined : ready.get(env);
      const direct =
        result?.ok === true &&
        (request.method === "GET" || request.method === "HEAD") &&
        getPath(request) === "/verify" &&
        gatedHost(request.url, result.runtime.settings) === undefined;
      return (direct ? verifyApp : app).fetch(request, env, executionCtx);
    },
  };
}
