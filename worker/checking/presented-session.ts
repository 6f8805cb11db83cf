/**
 * The session a request presents: our cookie (or, where allowed, "Authorization: Bearer
 * <our JWT>"), verified and checked against the deny-list of signed-out sessions. Used by
 * every role that checks a cookie (signer, verifier, gate) and by the signer's own routes.
 */
import { readSessionCookie } from "../http/cookie.js";
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

export async function checkPresentedSession(
  checkers: SessionCheckers,
  credentials: PresentedCredentials,
  now: number,
): Promise<PresentedSession> {
  const cookie = readSessionCookie(credentials.cookieHeader, credentials.cookieName);
  if (cookie.kind === "ambiguous") return { ok: false, reason: "ambiguous_cookie" };
  const bearer = /^Bearer +(\S+)\s*$/i.exec(credentials.authorization ?? "")?.[1];
  const token = cookie.kind === "one" ? cookie.token : bearer;
  if (token === undefined) return { ok: false, reason: "no_session" };
  const result = await checkers.verifier.verify(token, now);
  if (!result.ok) return result;
  if (await checkers.revocations.isRevoked(result.claims.jti, now)) return { ok: false, reason: "revoked" };
  return { ok: true, token, claims: result.claims, source: cookie.kind === "one" ? "cookie" : "bearer" };
}
