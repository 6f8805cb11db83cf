/**
 * The session a request presents: our cookie (or, for /verify, "Authorization: Bearer
 * <our JWT>"), verified and checked against the deny-list of signed-out sessions.
 */
import type { Context } from "hono";
import { readSessionCookie } from "../http/cookie.js";
import type { AppEnv } from "../runtime.js";
import type { SessionClaims } from "../tokens/sign.js";
import type { VerifyFailure } from "../tokens/verify.js";

export type PresentedSession =
  | { ok: true; token: string; claims: SessionClaims }
  | { ok: false; reason: VerifyFailure | "no_session" | "ambiguous_cookie" };

export async function presentedSession(c: Context<AppEnv>, options: { acceptBearer: boolean }): Promise<PresentedSession> {
  const { settings, verifier, revocations } = c.get("runtime");
  const cookie = readSessionCookie(c.req.header("Cookie"), settings.cookie.name);
  if (cookie.kind === "ambiguous") return { ok: false, reason: "ambiguous_cookie" };
  const bearer = options.acceptBearer ? /^Bearer +(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "")?.[1] : undefined;
  const token = cookie.kind === "one" ? cookie.token : bearer;
  if (token === undefined) return { ok: false, reason: "no_session" };
  const now = Date.now();
  const result = await verifier.verify(token, now);
  if (!result.ok) return result;
  if (await revocations.isRevoked(result.claims.jti, now)) return { ok: false, reason: "revoked" };
  return { ok: true, token, claims: result.claims };
}
