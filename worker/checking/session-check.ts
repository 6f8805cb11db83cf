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
import type { RevocationList } from "../tokens/revocation-list.js";
import type { SessionClaims } from "../tokens/sign.js";
import { chooseSession, presentedSessions, type CredentialSource, type PresentedSession, type SessionCheckers } from "./presented-session.js";
import type { AllowedOutcome, RememberedApprovals } from "./remembered-approvals.js";

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
      /**
       * The request presented exactly one credential, so the answer depends only on it, the
       * host, the token's times, keys, policy and deny-list: only such an answer may be
       * reused (remembered-approvals.ts, and a proxy's cache told by check-response.ts).
       * With several values under our cookie name it also depends on how the others fare
       * later (a not-yet-valid one of another user turns it into "ambiguous_cookie").
       */
      oneCredential: boolean;
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

/** What THE check needs from the role that runs it. */
export interface CheckSources extends SessionCheckers {
  revocations: Pick<RevocationList, "isRevoked" | "version">;
  /** Where allowed answers are remembered (remembered-approvals.ts); without it every request is checked in full. */
  approvals?: RememberedApprovals;
}

/**
 * The check. Synchronous when the same request was allowed before and nothing it depended on
 * has changed (remembered-approvals.ts), so that a role can answer without a promise.
 */
export function checkSession(sources: CheckSources, policy: CheckPolicy, request: ProtectedRequest, now: number): CheckOutcome | Promise<CheckOutcome> {
  const approvals = sources.approvals;
  if (!approvals) return checkInFull(sources, policy, request, now);
  const epoch = approvals.sync(sources, policy);
  const recalled = approvals.recall(request, now);
  if (!recalled) return checkAndRemember(sources, policy, request, now, approvals, epoch);
  if (!recalled.askDenyList) return recalled.outcome;
  return sources.revocations.isRevoked(recalled.outcome.claims.jti, now).then((revoked) => {
    if (!revoked) return recalled.outcome;
    approvals.forget(request);
    return checkAndRemember(sources, policy, request, now, approvals, epoch);
  });
}

async function checkAndRemember(
  sources: CheckSources,
  policy: CheckPolicy,
  request: ProtectedRequest,
  now: number,
  approvals: RememberedApprovals,
  epoch: number,
): Promise<CheckOutcome> {
  const outcome = await checkInFull(sources, policy, request, now);
  if (outcome.kind === "allowed" && outcome.oneCredential) approvals.remember(request, outcome, epoch, sources, policy);
  return outcome;
}

/** The whole check. */
async function checkInFull(checkers: SessionCheckers, policy: CheckPolicy, request: ProtectedRequest, now: number): Promise<CheckOutcome> {
  const presented = await presentedSessions(
    checkers,
    { cookieHeader: request.cookieHeader, cookieName: policy.cookie.name, authorization: request.authorization },
    now,
  );
  const session = chooseSession(presented);
  if (!session.ok) {
    const browser = isBrowserNavigation(request.method, request.accept);
    const returnTo = browser ? allowedRedirect(request.url(), policy) : undefined;
    return { kind: "unauthenticated", reason: session.reason, browser, returnTo };
  }
  const decision = decideAccess(policy.accessRules, request.host, session.claims);
  if (!decision.allowed) {
    const browser = isBrowserNavigation(request.method, request.accept);
    return { kind: "forbidden", claims: session.claims, reason: decision.reason, browser };
  }
  return {
    kind: "allowed",
    claims: session.claims,
    headers: identityHeaders(session.claims),
    source: session.source,
    oneCredential: presented.tokens === 1,
  };
}
