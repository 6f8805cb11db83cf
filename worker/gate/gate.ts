/**
 * The gate: this Worker on a Workers route in front of a hostname that already passes
 * through Cloudflare (GATED_HOSTS). Every request for that hostname gets THE check
 * (checking/), the same as /verify; an allowed one goes on to the hostname's origin
 * (a Worker's subrequest to a hostname of its own zone skips Workers routes and reaches the
 * origin: the Tunnel or the proxied DNS record), and the origin's answer comes back as it
 * is: status, headers, a streamed body, or a WebSocket.
 *
 * Which hostname a request is for comes from its URL, the hostname Cloudflare routed it by
 * (on Workers that is the Host the visitor connected with, and a different Host reaches a
 * different route or zone, not this one). X-Forwarded-Host is a plain client header here
 * and chooses nothing.
 */
import type { Context } from "hono";
import { refusalResponse } from "../checking/check-response.js";
import { checkSession, type ProtectedRequest } from "../checking/session-check.js";
import type { Settings } from "../config.js";
import { canonicalHost } from "../http/canonical-host.js";
import { errorResponse, HttpError } from "../http/errors.js";
import type { AppEnv } from "../runtime.js";
import { originRequest } from "./origin-request.js";

/** The gated hostname this request is for, or undefined when the signer answers it. */
export function gatedHost(url: string, settings: Pick<Settings, "gatedHosts">): string | undefined {
  if (settings.gatedHosts.size === 0) return undefined;
  const host = canonicalHost(new URL(url).host);
  return host !== undefined && settings.gatedHosts.has(host) ? host : undefined;
}

/** The protected request is the request itself: the visitor talks to the gate directly. */
function protectedRequest(request: Request, host: string): ProtectedRequest {
  return {
    cookieHeader: request.headers.get("Cookie") ?? undefined,
    authorization: request.headers.get("Authorization") ?? undefined,
    host,
    url: () => request.url,
    method: request.method,
    accept: request.headers.get("Accept") ?? undefined,
  };
}

export async function gate(c: Context<AppEnv>, host: string): Promise<Response> {
  const runtime = c.get("runtime");
  const { settings } = runtime;
  const request = c.req.raw;
  const outcome = await checkSession(runtime, settings, protectedRequest(request, host), Date.now());
  if (outcome.kind !== "allowed") {
    // config.ts accepts GATED_HOSTS only together with PUBLIC_URL, where /login lives.
    return refusalResponse(c, outcome, { signInOrigin: settings.publicUrl!, redirect: true });
  }
  try {
    // Returned untouched: wrapping it would drop a WebSocket and could buffer the body.
    return await fetch(originRequest(request, outcome, settings));
  } catch (error) {
    console.error(`[jwt-cookie] gate: the origin of ${host} did not answer:`, error instanceof Error ? error.message : String(error));
    return errorResponse(c, new HttpError(502, "origin_unreachable", "The protected service did not answer; try again later."));
  }
}
