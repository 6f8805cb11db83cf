/**
 * The local verifier's HTTP face: GET /verify (the very route the signer serves,
 * routes/verify.ts, over the verifier's runtime), GET /healthz, and 404 JSON for anything
 * else. No /session, /login, /logout, keys or Home Assistant here: this role only checks.
 */
import { Hono } from "hono";
import { answerErrorsAsJson, HttpError } from "../http/errors.js";
import { nodeHeader } from "../http/request-header.js";
import { verifyRoutes, type CheckEnv } from "../routes/verify.js";
import type { VerifierRuntime } from "./runtime.js";

export function createVerifierApp(runtime: VerifierRuntime): Hono<CheckEnv> {
  const app = new Hono<CheckEnv>();
  answerErrorsAsJson(app, "verifier");

  app.get("/healthz", (c) => {
    const health = runtime.health(Date.now());
    c.header("Cache-Control", "no-store");
    return c.json(health, health.status === "starting" ? 503 : 200);
  });
  // The runtime is taken inside the route, not by a middleware: /verify stays one handler.
  // This role runs on Node: headers straight from Node's parser when @hono/node-server serves it.
  app.route(
    "/",
    verifyRoutes({
      runtimeOf: () => {
        const current = runtime.current();
        if (current) return current;
        const { last_error } = runtime.health(Date.now());
        throw new HttpError(
          503,
          "verifier_not_ready",
          `The verifier has not yet loaded the signer's keys, check policy and sign-outs${last_error ? ` (${last_error})` : ""}; see /healthz.`,
          { "Retry-After": "2" },
        );
      },
      header: nodeHeader,
    }),
  );
  return app;
}
