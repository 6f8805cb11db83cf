/** The session this request to the signer presents (see checking/presented-session.ts). */
import type { Context } from "hono";
import { checkPresentedSession, type PresentedSession } from "../checking/presented-session.js";
import type { AppEnv } from "../runtime.js";

export type { PresentedSession } from "../checking/presented-session.js";

export function presentedSession(c: Context<AppEnv>, options: { acceptBearer: boolean }): Promise<PresentedSession> {
  const runtime = c.get("runtime");
  return checkPresentedSession(
    runtime,
    {
      cookieHeader: c.req.header("Cookie"),
      cookieName: runtime.settings.cookie.name,
      authorization: options.acceptBearer ? c.req.header("Authorization") : undefined,
    },
    Date.now(),
  );
}
