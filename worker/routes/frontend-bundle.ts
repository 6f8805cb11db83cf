/**
 * GET /jwt-cookie.js: the Home Assistant frontend module (dist/jwt-cookie.js, the file HACS
 * installs), so `extra_module_url: https://<signer>/jwt-cookie.js` works with no other
 * setting: loaded from here, the module takes its own origin as the signer's URL.
 * Module scripts loaded cross-origin are fetched in CORS mode: Home Assistant's current
 * index.html import()s extra modules (no credentials: "*" would do), older ones used
 * <script type="module" crossorigin="use-credentials">, which needs the page's own origin
 * and Allow-Credentials. The file is public, so every origin may read it. It is static:
 * served even when the signer's configuration is invalid, so the panel can load and say so.
 */
import { Hono } from "hono";
import { bundle, etag } from "../../dist/jwt-cookie.embed.js";
import type { AppEnv } from "../runtime.js";

const HEADERS: Record<string, string> = {
  "Content-Type": "text/javascript; charset=utf-8",
  "Cross-Origin-Resource-Policy": "cross-origin",
  "X-Content-Type-Options": "nosniff",
  // Short, then revalidated by ETag: a signer update reaches browsers within minutes.
  "Cache-Control": "public, max-age=300, must-revalidate",
  ETag: etag,
  Vary: "Origin",
};

/** Where the signer serves the HACS bundle (also on a misconfigured signer). */
export const FRONTEND_BUNDLE_PATH = "/jwt-cookie.js";

export function frontendBundleRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get(FRONTEND_BUNDLE_PATH, (c) => {
    const origin = c.req.header("Origin");
    const headers = {
      ...HEADERS,
      "Access-Control-Allow-Origin": origin ?? "*",
      ...(origin ? { "Access-Control-Allow-Credentials": "true" } : {}),
    };
    const known = (c.req.header("If-None-Match") ?? "").split(",").map((tag) => tag.trim().replace(/^W\//, ""));
    if (known.includes(etag) || known.includes("*")) return c.body(null, 304, headers);
    return c.body(bundle, 200, headers);
  });
  return routes;
}
