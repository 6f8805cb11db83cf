/**
 * GET /verify: forward auth for Caddy, Traefik and nginx. Never calls Home Assistant.
 * 200 + Remote-* headers when our cookie (or "Authorization: Bearer <our JWT>") verifies;
 * otherwise 401, except that a browser navigation through Caddy/Traefik gets a 302 to the
 * sign-in page. nginx's auth_request may only answer 2xx/401/403, so its config calls
 * /verify?redirect=false and turns the 401 into the redirect itself (error_page 401), to the
 * URL this route puts in X-Sign-In-Url.
 */
import { Hono, type Context } from "hono";
import { decideAccess } from "../http/access-rules.js";
import { signerOrigin } from "../http/cors.js";
import { errorResponse, HttpError } from "../http/errors.js";
import { identityHeaders } from "../http/identity-headers.js";
import { allowedRedirect } from "../http/redirect-allowlist.js";
import type { AppEnv } from "../runtime.js";
import { presentedSession } from "./presented-session.js";

/** The sign-in URL for a browser that nginx's auth_request got a 401 for. */
export const SIGN_IN_HEADER = "X-Sign-In-Url";

function firstForwarded(value: string | undefined): string | undefined {
  const first = value?.split(",")[0]?.trim();
  return first ? first : undefined;
}

/** The URL the visitor asked for, rebuilt from the proxy's X-Forwarded-* headers. */
export function originalUrl(c: Context<AppEnv>): string | undefined {
  const proto = firstForwarded(c.req.header("X-Forwarded-Proto"));
  const host = firstForwarded(c.req.header("X-Forwarded-Host"));
  const uri = c.req.header("X-Forwarded-Uri") ?? "/";
  if (!host || (proto !== "http" && proto !== "https") || !uri.startsWith("/")) return undefined;
  return `${proto}://${host}${uri}`;
}

function isBrowserNavigation(c: Context<AppEnv>): boolean {
  const method = c.req.header("X-Forwarded-Method") ?? c.req.method;
  return (method === "GET" || method === "HEAD") && (c.req.header("Accept") ?? "").includes("text/html");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function verifyRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/verify", async (c) => {
    const { settings } = c.get("runtime");
    c.header("Cache-Control", "no-store");
    const session = await presentedSession(c, { acceptBearer: true });

    if (session.ok) {
      const { claims } = session;
      const decision = decideAccess(settings.accessRules, firstForwarded(c.req.header("X-Forwarded-Host")), claims);
      if (!decision.allowed) {
        if (isBrowserNavigation(c)) {
          return c.html(
            `<!doctype html><meta charset="utf-8"><title>Access denied</title><h1>Access denied</h1><p>${escapeHtml(decision.reason)}</p><p>Ask your Home Assistant administrator for access.</p>`,
            403,
          );
        }
        return errorResponse(c, new HttpError(403, "access_denied", decision.reason));
      }
      return c.body(null, 200, identityHeaders(claims));
    }

    if (isBrowserNavigation(c)) {
      const origin = signerOrigin(c.req.url, settings.publicUrl);
      const back = allowedRedirect(originalUrl(c), settings);
      const signIn = `${origin}/login${back ? `?rd=${encodeURIComponent(back)}` : ""}`;
      if (c.req.query("redirect") !== "false") return c.redirect(signIn, 302);
      // nginx cannot URL-encode rd itself: its config reads this header of the 401
      // (auth_request_set) and sends the browser there from its error_page 401.
      c.header(SIGN_IN_HEADER, signIn);
    }
    return errorResponse(
      c,
      new HttpError(
        401,
        session.reason === "no_session" ? "no_session" : "invalid_session",
        `No valid session (${session.reason}): sign in through Home Assistant.`,
      ),
    );
  });
  return routes;
}
