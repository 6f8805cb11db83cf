/** GET /.well-known/jwt-cookie.json: the check settings local verifiers use (checking/check-policy-document.ts). */
import { Hono } from "hono";
import { CHECK_POLICY_PATH, checkPolicyDocument } from "../checking/check-policy-document.js";
import type { AppEnv } from "../runtime.js";

export function checkPolicyRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get(CHECK_POLICY_PATH, (c) => {
    // As long as the JWKS: a verifier refreshes both together.
    c.header("Cache-Control", "public, max-age=300, must-revalidate");
    return c.json(checkPolicyDocument(c.get("runtime").settings));
  });
  return routes;
}
