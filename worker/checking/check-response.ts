/**
 * How a role answers a check: /verify's 200 with the identity headers; for a request the
 * check did not allow, the sign-in redirect for a browser navigation, 401 JSON for scripts,
 * 403 (page or JSON) for ACCESS_RULES. Shared by /verify and the gate so that every role
 * answers the same way.
 */
import type { Context } from "hono";
import { errorResponse, HttpError } from "../http/errors.js";
import type { SessionClaims } from "../tokens/sign.js";
import { VERIFY_LEEWAY_SECONDS } from "../tokens/verify.js";
import type { AllowedOutcome } from "./remembered-approvals.js";
import type { CheckOutcome } from "./session-check.js";

// Claims objects come from the verifier's cache and the remembered approvals, so the headers
// of an allowed /verify are built once per session (and, told to a caching proxy, once per
// session and second); frozen, since every answer shares them.
const allowedHeaders = new WeakMap<SessionClaims, Readonly<Record<string, string>>>();
const reusableHeaders = new WeakMap<SessionClaims, { until: number; headers: Readonly<Record<string, string>> }>();

/**
 * The last Unix second in which a proxy may reuse this approval (inclusive), or undefined:
 * never. nginx keeps an entry through the whole second its X-Accel-Expires ends in, so an
 * approval checked at `nowSeconds` may be kept through nowSeconds + N - 1: at most N seconds
 * after the check. Only an answer to one credential (the same rule as remembered approvals),
 * and ending one second before the last second the check accepts the token (exp + leeway),
 * as nginx's native check does: nginx reads its clock once per event-loop turn (less often
 * with timer_resolution), so a look-up may run a little later than nginx believes. Told as an
 * absolute time ("@<seconds>"): a relative one would count from whenever the answer reaches
 * nginx, a later second when the answer is slow.
 */
export function proxyReuseUntil(outcome: AllowedOutcome, cacheSeconds: number, nowSeconds: number): number | undefined {
  if (cacheSeconds < 2 || !outcome.oneCredential) return undefined;
  const until = Math.min(nowSeconds + cacheSeconds - 1, outcome.claims.exp + VERIFY_LEEWAY_SECONDS - 1);
  return until > nowSeconds ? until : undefined;
}

/**
 * /verify's answer to an allowed request: 200, no body, the identity headers for the proxy to
 * copy, and X-Accel-Expires when the role lets a caching proxy reuse it (the local verifier's
 * PROXY_APPROVAL_CACHE; the generated nginx --check local config honours it). `nowSeconds`:
 * when the check was made.
 */
export function allowedResponse(outcome: AllowedOutcome, proxyCacheSeconds = 0, nowSeconds = 0): Response {
  const until = proxyReuseUntil(outcome, proxyCacheSeconds, nowSeconds);
  let headers = allowedHeaders.get(outcome.claims);
  if (!headers) {
    // Length-delimited, not chunked (Node's default for an empty body): Caddy's forward_auth
    // never reads a 2xx body, and Go reuses only connections whose answer it read to the
    // end, so a chunked 200 would cost a new connection per request.
    headers = Object.freeze({ "Cache-Control": "no-store", "Content-Length": "0", ...outcome.headers });
    allowedHeaders.set(outcome.claims, headers);
  }
  if (until !== undefined) {
    // Within a second, the same object for every answer of the session.
    const kept = reusableHeaders.get(outcome.claims);
    if (kept?.until === until) headers = kept.headers;
    else {
      const withReuse = Object.freeze({ ...headers, "X-Accel-Expires": `@${until}` });
      reusableHeaders.set(outcome.claims, { until, headers: withReuse });
      headers = withReuse;
    }
  }
  // A plain object, not Headers: @hono/node-server writes it as it is.
  return new Response(null, { status: 200, headers });
}

/** The sign-in URL for a browser that nginx's auth_request got a 401 for. */
export const SIGN_IN_HEADER = "X-Sign-In-Url";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function signInUrl(signInOrigin: string, returnTo: string | undefined): string {
  return `${signInOrigin}/login${returnTo ? `?rd=${encodeURIComponent(returnTo)}` : ""}`;
}

export interface RefusalOptions {
  /** The signer's public origin, where /login lives. */
  signInOrigin: string;
  /**
   * false for nginx's auth_request, which may only answer 2xx/401/403: the browser gets a
   * 401 with the sign-in URL in X-Sign-In-Url, and nginx's error_page 401 redirects.
   */
  redirect: boolean;
}

export function refusalResponse(c: Context, outcome: Exclude<CheckOutcome, { kind: "allowed" }>, options: RefusalOptions): Response {
  c.header("Cache-Control", "no-store");
  if (outcome.kind === "forbidden") {
    if (outcome.browser) {
      return c.html(
        `<!doctype html><meta charset="utf-8"><title>Access denied</title><h1>Access denied</h1><p>${escapeHtml(outcome.reason)}</p><p>Ask your Home Assistant administrator for access.</p>`,
        403,
      );
    }
    return errorResponse(c, new HttpError(403, "access_denied", outcome.reason));
  }
  if (outcome.browser) {
    const url = signInUrl(options.signInOrigin, outcome.returnTo);
    if (options.redirect) return c.redirect(url, 302);
    // nginx cannot URL-encode rd itself: its config reads this header of the 401
    // (auth_request_set) and sends the browser there from its error_page 401.
    c.header(SIGN_IN_HEADER, url);
  }
  return errorResponse(
    c,
    new HttpError(
      401,
      outcome.reason === "no_session" ? "no_session" : "invalid_session",
      `No valid session (${outcome.reason}): sign in through Home Assistant.`,
    ),
  );
}
