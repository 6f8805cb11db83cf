/**
 * GET /verify: forward auth for Caddy, Traefik and nginx. Never calls Home Assistant.
 * 200 + Remote-* headers when our cookie (or "Authorization: Bearer <our JWT>") verifies;
 * otherwise 401, except that a browser navigation through Caddy/Traefik gets a 302 to the
 * sign-in page. nginx's auth_request may only answer 2xx/401/403, so its config calls
 * /verify?redirect=false and turns the 401 into the redirect itself (error_page 401), to the
 * URL this route puts in X-Sign-In-Url. The check itself is worker/checking/session-check.ts,
 * the same for every role that serves this route.
 */
import { Hono, type Context } from "hono";
import { refusalResponse } from "../checking/check-response.js";
import type { SessionCheckers } from "../checking/presented-session.js";
import { checkSession, type CheckPolicy, type ProtectedRequest } from "../checking/session-check.js";
import { signerOrigin } from "../http/cors.js";

export { SIGN_IN_HEADER } from "../checking/check-response.js";

function firstForwarded(value: string | undefined): string | undefined {
  const first = value?.split(",")[0]?.trim();
  return first ? first : undefined;
}

/** The URL the visitor asked for, rebuilt from the proxy's X-Forwarded-* headers. */
export function originalUrl(c: Context): string | undefined {
  const proto = firstForwarded(c.req.header("X-Forwarded-Proto"));
  const host = firstForwarded(c.req.header("X-Forwarded-Host"));
  const uri = c.req.header("X-Forwarded-Uri") ?? "/";
  if (!host || (proto !== "http" && proto !== "https") || !uri.startsWith("/")) return undefined;
  return `${proto}://${host}${uri}`;
}

/** The protected request as a forward-auth proxy describes it to /verify. */
export function forwardedRequest(c: Context): ProtectedRequest {
  return {
    cookieHeader: c.req.header("Cookie"),
    authorization: c.req.header("Authorization"),
    host: firstForwarded(c.req.header("X-Forwarded-Host")),
    url: () => originalUrl(c),
    method: c.req.header("X-Forwarded-Method") ?? c.req.method,
    accept: c.req.header("Accept"),
  };
}

/**
 * What /verify needs from the role that serves it: the signer's Runtime is one, the local
 * verifier's runtime (public keys from the signer's JWKS, a copy of its deny-list) another.
 */
export interface CheckRuntime extends SessionCheckers {
  settings: CheckPolicy;
  /** Where /login is; default the signer's PUBLIC_URL, else the origin this request came to. */
  signInOrigin?: string;
}

export interface CheckEnv {
  Variables: { runtime: CheckRuntime };
}

export function verifyRoutes(): Hono<CheckEnv> {
  const routes = new Hono<CheckEnv>();
  routes.get("/verify", async (c) => {
    const runtime = c.get("runtime");
    const outcome = await checkSession(runtime, runtime.settings, forwardedRequest(c), Date.now());
    if (outcome.kind === "allowed") {
      c.header("Cache-Control", "no-store");
      // Length-delimited, not chunked (Node's default for an empty body): Caddy's
      // forward_auth never reads a 2xx body, and Go reuses only connections whose answer it
      // read to the end, so a chunked 200 would cost a new connection per request.
      c.header("Content-Length", "0");
      return c.body(null, 200, outcome.headers);
    }
    return refusalResponse(c, outcome, {
      signInOrigin: signerOrigin(c.req.url, runtime.signInOrigin ?? runtime.settings.publicUrl),
      redirect: c.req.query("redirect") !== "false",
    });
  });
  return routes;
}
