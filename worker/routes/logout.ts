/**
 * POST /logout (CORS, from the Home Assistant frontend) and GET /logout?rd=<url> (links,
 * proxies): clear our cookie with the same Name, Domain and Path. The GET redirects only to
 * an allowed target; a disallowed one is a 400 that clears nothing.
 */
import { Hono, type Context } from "hono";
import { clearedCookie } from "../http/cookie.js";
import { corsForAllowedOrigins } from "../http/cors.js";
import { HttpError } from "../http/errors.js";
import { allowedRedirect } from "../http/redirect-allowlist.js";
import type { AppEnv } from "../runtime.js";
import { presentedSession } from "./presented-session.js";

/**
 * A copied cookie must stop working at /verify too, not only disappear from this browser; so
 * must the cookies it replaced on renewal, issued for the same Home Assistant session.
 */
async function revokePresentedSession(c: Context<AppEnv>): Promise<void> {
  const session = await presentedSession(c, { acceptBearer: false });
  if (!session.ok) return;
  const { revocations, haSessions } = c.get("runtime");
  const now = Date.now();
  await revocations.revoke(session.claims.jti, session.claims.exp, now);
  await haSessions.signOut(session.claims.jti, now);
}

export function logoutRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("/logout", corsForAllowedOrigins());

  routes.post("/logout", async (c) => {
    const { settings } = c.get("runtime");
    await revokePresentedSession(c);
    c.header("Set-Cookie", clearedCookie(settings));
    c.header("Cache-Control", "no-store");
    return c.json({ signed_out: true });
  });

  routes.get("/logout", async (c) => {
    const { settings } = c.get("runtime");
    const rd = c.req.query("rd");
    let target: string | undefined;
    if (rd !== undefined) {
      target = allowedRedirect(rd, settings);
      if (!target) {
        throw new HttpError(
          400,
          "redirect_not_allowed",
          "The rd target is not an allowed address: it must be an http(s) URL under COOKIE_DOMAIN or listed in REDIRECT_ALLOWLIST. Nothing was changed.",
        );
      }
    }
    await revokePresentedSession(c);
    c.header("Set-Cookie", clearedCookie(settings));
    c.header("Cache-Control", "no-store");
    if (target) return c.redirect(target, 302);
    return c.json({ signed_out: true });
  });

  return routes;
}
