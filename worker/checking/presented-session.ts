/**
 * The session a request presents: our cookie (or, where allowed, "Authorization: Bearer
 * <our JWT>"), verified and checked against the deny-list of signed-out sessions. Used by
 * every role that checks a cookie (signer, verifier, gate) and by the signer's own routes.
 *
 * Several values under our cookie name. Any host under COOKIE_DOMAIN can set a cookie of our
 * name for the whole domain (or with a longer Path, which browsers send first), so a request
 * may carry more than one value. The rule, which every checker (the native nginx njs check
 * included, minus the deny-list it cannot see) implements exactly; HAProxy cannot loop over
 * the values and refuses any second one instead (docs/haproxy.md):
 *   1. Take the distinct non-empty values under our name in the order sent, at most
 *      MAX_SESSION_COOKIES (8); the rest are not looked at.
 *   2. A value counts when it fully verifies (signature, kid, times, iss, aud, claims) and is
 *      not signed out. Values that do not count are ignored: a planted garbage, forged,
 *      expired or signed-out cookie can no longer lock the user out.
 *   3. No value counts: refused, with the first value's failure reason.
 *   4. Values that count belong to two or more different users (sub): refused
 *      ("ambiguous_cookie"); the signer cannot tell which one the person at the keyboard is.
 *   5. Otherwise (one user): the value with the highest iat wins (ties: highest exp, then the
 *      first sent). Two valid values of one user happen after a renewal when an older cookie
 *      with another Path or Domain survives; the newest carries the roles Home Assistant gave
 *      most recently, and choosing between them changes nothing about who the user is.
 * Bearer: only when the request carries no value under our name at all.
 * What this cannot prevent: a host under COOKIE_DOMAIN that holds a valid session of its own
 * can replace the user's cookie with it (session fixation) or add it beside the user's (rule 4
 * refuses both). Every host under COOKIE_DOMAIN is trusted with sessions (README, Security).
 */
import { readSessionCookies } from "../http/cookie.js";
import type { RevocationList } from "../tokens/revocation-list.js";
import type { SessionClaims } from "../tokens/sign.js";
import type { Verifier, VerifyFailure } from "../tokens/verify.js";

/** Where the session came from: our cookie, or "Authorization: Bearer <our JWT>". */
export type CredentialSource = "cookie" | "bearer";

export type PresentedSession =
  | { ok: true; token: string; claims: SessionClaims; source: CredentialSource }
  | { ok: false; reason: VerifyFailure | "no_session" | "ambiguous_cookie" };

/** What a role needs to check a session: public keys (inside the verifier) and the deny-list. */
export interface SessionCheckers {
  verifier: Verifier;
  revocations: Pick<RevocationList, "isRevoked">;
}

export interface PresentedCredentials {
  cookieHeader: string | undefined;
  cookieName: string;
  /** The Authorization header, when a Bearer JWT is acceptable here; undefined otherwise. */
  authorization?: string | undefined;
}

export interface ValidSession {
  token: string;
  claims: SessionClaims;
}

/** Everything the request presents, judged: the sessions that count and why the others do not. */
export interface PresentedSessions {
  /** Values under our cookie name that were looked at (0 when only a Bearer token, or nothing, was sent). */
  cookieValues: number;
  /** Tokens looked at: the cookie values, else 1 for a Bearer token, else 0. */
  tokens: number;
  /** The presented tokens that verify and are not signed out, in the order sent. */
  valid: ValidSession[];
  /** Why the first token that does not count was refused. */
  firstFailure: VerifyFailure | undefined;
}

async function judge(checkers: SessionCheckers, token: string, now: number): Promise<ValidSession | VerifyFailure> {
  const result = await checkers.verifier.verify(token, now);
  if (!result.ok) return result.reason;
  if (await checkers.revocations.isRevoked(result.claims.jti, now)) return "revoked";
  return { token, claims: result.claims };
}

export async function presentedSessions(
  checkers: SessionCheckers,
  credentials: PresentedCredentials,
  now: number,
): Promise<PresentedSessions> {
  const cookies = readSessionCookies(credentials.cookieHeader, credentials.cookieName);
  const bearer = /^Bearer +(\S+)\s*$/i.exec(credentials.authorization ?? "")?.[1];
  const tokens = cookies.length > 0 ? cookies : bearer !== undefined ? [bearer] : [];
  const valid: ValidSession[] = [];
  let firstFailure: VerifyFailure | undefined;
  for (const token of tokens) {
    const judged = await judge(checkers, token, now);
    if (typeof judged === "string") firstFailure ??= judged;
    else valid.push(judged);
  }
  return { cookieValues: cookies.length, tokens: tokens.length, valid, firstFailure };
}

/** The one session that counts (rules 3-5 above). */
export function chooseSession(presented: PresentedSessions): PresentedSession {
  const [first, ...others] = presented.valid;
  if (first === undefined) return { ok: false, reason: presented.firstFailure ?? "no_session" };
  if (others.some((s) => s.claims.sub !== first.claims.sub)) return { ok: false, reason: "ambiguous_cookie" };
  let chosen = first;
  for (const s of others) {
    if (s.claims.iat > chosen.claims.iat || (s.claims.iat === chosen.claims.iat && s.claims.exp > chosen.claims.exp)) chosen = s;
  }
  return { ok: true, token: chosen.token, claims: chosen.claims, source: presented.cookieValues > 0 ? "cookie" : "bearer" };
}

export async function checkPresentedSession(
  checkers: SessionCheckers,
  credentials: PresentedCredentials,
  now: number,
): Promise<PresentedSession> {
  return chooseSession(await presentedSessions(checkers, credentials, now));
}
