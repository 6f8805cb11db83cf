/**
 * What the origin gets from the gate for an allowed visitor: the visitor's own request
 * (method, URL, body stream, headers) with three changes. Remote-* headers the client sent
 * are dropped, in any case and with "-" or "_" (some servers read Remote_User as
 * Remote-User); the signer's Remote-User/Remote-Name/Remote-Groups are set; and the
 * credential that signed in (our cookie, or "Authorization: Bearer <our JWT>") is removed
 * unless GATE_FORWARD_COOKIE is set: the origin gets the identity, not a token it could
 * replay. An Authorization header that did not sign in (the cookie did) belongs to the
 * origin and stays.
 */
import type { CheckOutcome } from "../checking/session-check.js";
import type { Settings } from "../config.js";
import { withoutCookie } from "../http/cookie.js";

const CLIENT_IDENTITY = /^remote[-_]/i;

export function originRequest(
  request: Request,
  outcome: Extract<CheckOutcome, { kind: "allowed" }>,
  settings: Pick<Settings, "cookie" | "gateForwardCookie">,
): Request {
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) if (CLIENT_IDENTITY.test(name)) headers.delete(name);
  for (const [name, value] of Object.entries(outcome.headers)) headers.set(name, value);
  if (!settings.gateForwardCookie) {
    const otherCookies = withoutCookie(headers.get("Cookie"), settings.cookie.name);
    if (otherCookies === undefined) headers.delete("Cookie");
    else headers.set("Cookie", otherCookies);
    if (outcome.source === "bearer") headers.delete("Authorization");
  }
  // The body is the visitor's stream, handed on as it arrives (never read here); "manual"
  // gives the origin's redirects to the browser instead of following them.
  return new Request(request, { headers, redirect: "manual" });
}
