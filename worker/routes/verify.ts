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
import { fetchHeader, type HeaderReader } from "../http/request-header.js";

export { SIGN_IN_HEADER } from "../checking/check-response.js";

/**
 * The query a proxy adds to /verify to say that it keeps approvals in a cache keyed by the
 * visitor's own Cookie and Authorization headers (the generated nginx --check local config).
 * Only then does the local verifier add X-Accel-Expires: told to any nginx, the header would
 * also make a cache inherited from the site's http { }, keyed by the subrequest's URI alone,
 * hand one visitor's approval to everyone. A query, not a header: the proxy's config fixes
 * the subrequest's URI, while the visitor's headers may be passed on.
 */
const APPROVAL_CACHE_NAME = "approval_cache";
const APPROVAL_CACHE_VALUE = "keyed";
export const APPROVAL_CACHE_QUERY = { name: APPROVAL_CACHE_NAME, value: APPROVAL_CACHE_VALUE, param: `${APPROVAL_CACHE_NAME}=${APPROVAL_CACHE_VALUE}` } as const;

function firstForwarded(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const comma = value.indexOf(",");
  const first = (comma < 0 ? value : value.slice(0, comma)).trim();
  return first ? first : undefined;
}

/** The URL the visitor asked for, rebuilt from the proxy's X-Forwarded-* headers. */
export function originalUrl(c: Context, header: HeaderReader = fetchHeader): string | undefined {
  const proto = firstForwarded(header(c, "x-forwarded-proto"));
  const host = firstForwarded(header(c, "x-forwarded-host"));
  const uri = header(c, "x-forwarded-uri") ?? "/";
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

  constructor(
    private readonly c: Context,
    private readonly header: HeaderReader,
  ) {
    this.cookieHeader = header(c, "cookie");
    this.authorization = header(c, "authorization");
    this.host = firstForwarded(header(c, "x-forwarded-host"));
  }

  url(): string | undefined {
    return originalUrl(this.c, this.header);
  }

  get method(): string {
    return this.header(this.c, "x-forwarded-method") ?? this.c.req.method;
  }

  get accept(): string | undefined {
    return this.header(this.c, "accept");
  }
}

export function forwardedRequest(c: Context, header: HeaderReader = fetchHeader): ProtectedRequest {
  return new ForwardedRequest(c, header);
}

/**
 * What /verify needs from the role that serves it: the signer's Runtime is one, the local
 * verifier's runtime (public keys from the signer's JWKS, a copy of its deny-list) another.
 */
export interface CheckRuntime extends CheckSources {
  settings: CheckPolicy;
  /** Where /login is; default the signer's PUBLIC_URL, else the origin this request came to. */
  signInOrigin?: string;
  /**
   * How long a caching proxy may reuse an approval (X-Accel-Expires), told only to a proxy that
   * asks with APPROVAL_CACHE_QUERY; unset or 0: never (the signer).
   */
  proxyApprovalCacheSeconds?: number;
}

export interface CheckEnv {
  Variables: { runtime: CheckRuntime };
}

export interface VerifyRouteOptions {
  /**
   * The runtime for the request; by default the one the app's middleware put in the context.
   * It may throw an HttpError, e.g. 503 before the verifier is ready.
   */
  runtimeOf?: (c: Context<CheckEnv>) => CheckRuntime;
  /** How the request's headers are read: through the Fetch API unless the role knows better (http/request-header.ts). */
  header?: HeaderReader;
}

/**
 * GET /verify. One handler and no middleware of its own, and no promise when the check
 * answers from remembered approvals: Hono and @hono/node-server then take their synchronous
 * path.
 */
export function verifyRoutes(options: VerifyRouteOptions = {}): Hono<CheckEnv> {
  const { runtimeOf = (c) => c.get("runtime"), header = fetchHeader } = options;
  const routes = new Hono<CheckEnv>();
  routes.get("/verify", (c): Response | Promise<Response> => {
    const runtime = runtimeOf(c);
    const now = Date.now();
    const outcome = checkSession(runtime, runtime.settings, forwardedRequest(c, header), now);
    return outcome instanceof Promise ? outcome.then((checked: CheckOutcome) => answer(c, runtime, checked, now)) : answer(c, runtime, outcome, now);
  });
  return routes;
}

function answer(c: Context<CheckEnv>, runtime: CheckRuntime, outcome: CheckOutcome, now: number): Response {
  if (outcome.kind === "allowed") {
    const cacheSeconds = runtime.proxyApprovalCacheSeconds && c.req.query(APPROVAL_CACHE_QUERY.name) === APPROVAL_CACHE_QUERY.value ? runtime.proxyApprovalCacheSeconds : 0;
    return allowedResponse(outcome, cacheSeconds, Math.floor(now / 1000));
  }
  return refusalResponse(c, outcome, {
    signInOrigin: signerOrigin(c.req.url, runtime.signInOrigin ?? runtime.settings.publicUrl),
    redirect: c.req.query("redirect") !== "false",
  });
}
