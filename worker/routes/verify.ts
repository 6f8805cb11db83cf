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
import { allowedResponse, refusalResponse } from "../checking/check-response.js";
import { checkSession, type CheckOutcome, type CheckPolicy, type CheckSources, type ProtectedRequest } from "../checking/session-check.js";
import { signerOrigin } from "../http/cors.js";

export { SIGN_IN_HEADER } from "../checking/check-response.js";

function firstForwarded(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const comma = value.indexOf(",");
  const first = (comma < 0 ? value : value.slice(0, comma)).trim();
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

/**
 * The protected request as a forward-auth proxy describes it to /verify. Method and Accept
 * are read only when the check refuses (a browser is redirected, a script gets 401); a class,
 * so that its getters live on the prototype and a request costs one small object.
 */
class ForwardedRequest implements ProtectedRequest {
  readonly cookieHeader: string | undefined;
  readonly authorization: string | undefined;
  readonly host: string | undefined;

  constructor(private readonly c: Context) {
    this.cookieHeader = c.req.header("Cookie");
    this.authorization = c.req.header("Authorization");
    this.host = firstForwarded(c.req.header("X-Forwarded-Host"));
  }

  url(): string | undefined {
    return originalUrl(this.c);
  }

  get method(): string {
    return this.c.req.header("X-Forwarded-Method") ?? this.c.req.method;
  }

  get accept(): string | undefined {
    return this.c.req.header("Accept");
  }
}

export function forwardedRequest(c: Context): ProtectedRequest {
  return new ForwardedRequest(c);
}

/**
 * What /verify needs from the role that serves it: the signer's Runtime is one, the local
 * verifier's runtime (public keys from the signer's JWKS, a copy of its deny-list) another.
 */
export interface CheckRuntime extends CheckSources {
  settings: CheckPolicy;
  /** Where /login is; default the signer's PUBLIC_URL, else the origin this request came to. */
  signInOrigin?: string;
  /** How long a caching proxy may reuse an approval (X-Accel-Expires); unset or 0: never (the signer). */
  proxyApprovalCacheSeconds?: number;
}

export interface CheckEnv {
  Variables: { runtime: CheckRuntime };
}

/**
 * GET /verify over the runtime `runtimeOf` gives for the request (by default the one the
 * app's middleware put in the context; it may throw an HttpError, e.g. 503 before the
 * verifier is ready). One handler and no middleware of its own, and no promise when the
 * check answers from remembered approvals: Hono and @hono/node-server then take their
 * synchronous path.
 */
export function verifyRoutes(runtimeOf: (c: Context<CheckEnv>) => CheckRuntime = (c) => c.get("runtime")): Hono<CheckEnv> {
  const routes = new Hono<CheckEnv>();
  routes.get("/verify", (c): Response | Promise<Response> => {
    const runtime = runtimeOf(c);
    const now = Date.now();
    const outcome = checkSession(runtime, runtime.settings, forwardedRequest(c), now);
    return outcome instanceof Promise ? outcome.then((checked: CheckOutcome) => answer(c, runtime, checked, now)) : answer(c, runtime, outcome, now);
  });
  return routes;
}

function answer(c: Context<CheckEnv>, runtime: CheckRuntime, outcome: CheckOutcome, now: number): Response {
  if (outcome.kind === "allowed") return allowedResponse(outcome, runtime.proxyApprovalCacheSeconds, Math.floor(now / 1000));
  return refusalResponse(c, outcome, {
    signInOrigin: signerOrigin(c.req.url, runtime.signInOrigin ?? runtime.settings.publicUrl),
    redirect: c.req.query("redirect") !== "false",
  });
}
