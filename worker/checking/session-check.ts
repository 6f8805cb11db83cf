/**
 * THE check in front of a protected service, written once and used by the signer's
 * /verify, the local verifier and the Workers gate: one cookie (or a Bearer JWT) that
 * verifies with an accepted key, is within its times, has our iss/aud and is not signed
 * out; then ACCESS_RULES for the protected host; then the identity headers the upstream
 * gets. The native checkers (njs, HAProxy) cannot share this code; the proxy contract
 * tests keep them equal to it.
 */
import type { AccessRule } from "../config.js";
import { decideAccess } from "../http/access-rules.js";
import { identityHeaders } from "../http/identity-headers.js";
import { allowedRedirect, type RedirectPolicy } from "../http/redirect-allowlist.js";
import type { SessionClaims } from "../tokens/sign.js";
import { checkPresentedSession, type CredentialSource, type PresentedSession, type SessionCheckers } from "./presented-session.js";

/** The request for the protected service, as the role sees it (from the proxy's X-Forwarded-* or the request itself). */
export interface ProtectedRequest {
  cookieHeader: string | undefined;
  authorization: string | undefined;
  /** The protected service's host as the visitor asked for it; chooses the ACCESS_RULES rule. */
  host: string | undefined;
  /** The URL the visitor asked for, to come back to after signing in (built only when needed). */
  url: () => string | undefined;
  method: string;
  accept: string | undefined;
}

export interface CheckPolicy extends RedirectPolicy {
  cookie: RedirectPolicy["cookie"] & { name: string };
  accessRules: Record<string, AccessRule>;
}

export type CheckOutcome =
  | {
      kind: "allowed";
      claims: SessionClaims;
      headers: Record<string, string>;
      /** Which credential signed in: the gate removes exactly that one before the origin sees the request. */
      source: CredentialSource;
    }
  | { kind: "forbidden"; claims: SessionClaims; reason: string; browser: boolean }
  | {
      kind: "unauthenticated";
      reason: Exclude<PresentedSession, { ok: true }>["reason"];
      browser: boolean;
      /** Where to send the visitor back after signing in, when that address is allowed. */
      returnTo: string | undefined;
    };

/** A page load the visitor sees (GET/HEAD asking for HTML), as opposed to a script's request. */
export function isBrowserNavigation(method: string, accept: string | undefined): boolean {
  return (method === "GET" || method === "HEAD") && (accept ?? "").includes("text/html");
}

export async function checkSession(
  checkers: SessionCheckers,
  policy: CheckPolicy,
  request: ProtectedRequest,
  now: number,
): Promise<CheckOutcome> {
  const browser = isBrowserNavigation(request.method, request.accept);
  const session = await checkPresentedSession(
    checkers,
    { cookieHeader: request.cookieHeader, cookieName: policy.cookie.name, authorization: request.authorization },
    now,
  );
  if (!session.ok) {
    return { kind: "unauthenticated", reason: session.reason, browser, returnTo: browser ? allowedRedirect(request.url(), policy) : undefined };
  }
  const decision = decideAccess(policy.accessRules, request.host, session.claims);
  if (!decision.allowed) return { kind: "forbidden", claims: session.claims, reason: decision.reason, browser };
  return { kind: "allowed", claims: session.claims, headers: identityHeaders(session.claims), source: session.source };
}
