/**
 * CORS with credentials for the endpoints the Home Assistant frontend calls. Only the
 * configured origins (default: HA_URL's) and the signer's own origin get an answer; a
 * request from any other origin is refused with 403 before its route runs, so it can never
 * set or clear a cookie. "Origin: null" (sandboxed or opaque pages) is never allowed, and a
 * POST that a browser marks Sec-Fetch-Site: cross-site is refused even without Origin.
 * Not hono/cors: it lets a disallowed origin's request run its route (only omitting the
 * Allow-Origin header), and it has no Private Network Access answer.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../runtime.js";
import { HttpError } from "./errors.js";
import { isCrossSiteRequest } from "./fetch-metadata.js";

export function signerOrigin(requestUrl: string, publicUrl: string | undefined): string {
  return publicUrl ?? new URL(requestUrl).origin;
}

export function corsForAllowedOrigins(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header("Origin");
    const { settings } = c.get("runtime");
    if (origin === undefined) {
      // Browsers send Origin with every POST; a cross-site one without it is refused all the same.
      if (c.req.method === "POST" && isCrossSiteRequest(c.req.header("Sec-Fetch-Site"))) {
        throw new HttpError(403, "cross_site_request", "Another site cannot send this request: sign in or out from Home Assistant or the sign-in page.");
      }
      return next(); // not a browser's cross-origin request
    }
    const allowed =
      origin !== "null" &&
      (settings.allowedOrigins.includes(origin) || origin === signerOrigin(c.req.url, settings.publicUrl));
    if (!allowed) {
      throw new HttpError(
        403,
        "origin_not_allowed",
        `Requests from ${JSON.stringify(origin.slice(0, 200))} are not allowed: add this origin to ALLOWED_ORIGINS if it is your Home Assistant.`,
        { Vary: "Origin" },
      );
    }
    c.header("Access-Control-Allow-Origin", origin);
    c.header("Access-Control-Allow-Credentials", "true");
    c.header("Vary", "Origin");
    // Not CORS-safelisted: without this the frontend cannot read how long a 429 or 503 asks it to wait.
    c.header("Access-Control-Expose-Headers", "Retry-After");
    if (c.req.method === "OPTIONS") {
      c.header("Access-Control-Allow-Methods", "GET, POST");
      c.header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      c.header("Access-Control-Max-Age", "600");
      // Chrome's Private Network Access: a public Home Assistant page calling a signer on the LAN.
      if (c.req.header("Access-Control-Request-Private-Network") === "true") {
        c.header("Access-Control-Allow-Private-Network", "true");
      }
      return c.body(null, 204);
    }
    return next();
  };
}
