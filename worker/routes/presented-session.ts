/** The session this request to the signer presents (see checking/presented-session.ts). */
import type { Context } from "hono";
import { checkPresentedSession, presentedSessions, type PresentedSession, type PresentedSessions } from "../checking/presented-session.js";
import type { AppEnv } from "../runtime.js";

export type { PresentedSession } from "../checking/presented-session.js";

export function presentedSession(c: Context<AppEnv>, options: { acceptBearer: boolean }): Promise<PresentedSession> {
  const runtime = c.get("runtime");
  return checkPresentedSession(runtime, credentialsOf(c, options), Date.now());
}

/** Every session the request's cookies present, valid or not (sign-out ends them all). */
export function presentedCookieSessions(c: Context<AppEnv>): Promise<PresentedSessions> {
  return presentedSessions(c.get("runtime"), credentialsOf(c, { acceptBearer: false }), Date.now());
}

function credentialsOf(c: Context<AppEnv>, options: { acceptBearer: boolean }) {
  return {
    cookieHeader: c.req.header("Cookie"),
    cookieName: c.get("runtime").settings.cookie.name,
    authorization: options.acceptBearer ? c.req.header("Authorization") : undefined,
  };
}
