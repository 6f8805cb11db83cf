/**
 * POST /logout (CORS, from the Home Assistant frontend) and GET /logout?rd=<url> (links,
 * proxies): clear our cookie with the same Name, Domain and Path. The GET redirects only to
 * an allowed target; a disallowed one is a 400 that clears nothing.
 */
import { Hono } from "hono";
import { clearedCookie } from "../http/cookie.js";
import { corsForAllowedOrigins, signerOrigin } from "../http/cors.js";
import { HttpError } from "../http/errors.js";
import { allowedRedirect } from "../http/redirect-allowlist.js";
import type { AppEnv } from "../runtime.js";

export function logoutRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("/logout", corsForAllowedOrigins());

  routes.post("/logout", (c) => {
    const { settings } = c.get("runtime");
    c.header("Set-Cookie", clearedCookie(settings));
    c.header("Cache-Control", "no-store");
    return c.json({ signed_out: true });
  });

  routes.get("/logout", (c) => {
    const { settings } = c.get("runtime");
    const rd = c.req.query("rd");
    let target: string | undefined;
    if (rd !== undefined) {
      target = allowedRedirect(rd, settings, signerOrigin(c.req.url, settings.publicUrl));
      if (!target) {
        throw new HttpError(
          400,
          "redirect_not_allowed",
          "The rd target is not an allowed address: it must be an http(s) URL under COOKIE_DOMAIN or listed in REDIRECT_ALLOWLIST. Nothing was changed.",
        );
      }
    }
    c.header("Set-Cookie", clearedCookie(settings));
    c.header("Cache-Control", "no-store");
    if (target) return c.redirect(target, 302);
    return c.json({ signed_out: true });
  });

  return routes;
}
