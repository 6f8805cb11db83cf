/**
 * GET /login?rd=<url>   the sign-in page for direct visits: a small HTML shell whose script
 *                       (frontend/login/, served as /login.js) signs in through Home
 *                       Assistant's OAuth flow, posts the token to /session and returns to rd.
 * GET /login?action=logout  the same page signing out (tokens, cookie, refresh token), at once
 *                       when it is the user's own navigation, else ("confirm-logout") only
 *                       after a click on its Sign out button: no other site can sign anyone out.
 * GET /login.js         that script, as rollup built it (dist/login.js; dist/login.embed.ts
 *                       carries the same bytes as a string, so Workers and Node serve it alike).
 * rd is checked here with the redirect allow-list and only a validated target reaches the
 * page (which checks it again before it navigates).
 */
import { Hono } from "hono";
import { bundle, etag } from "../../dist/login.embed.js";
import type { Settings } from "../config.js";
import { signerOrigin } from "../http/cors.js";
import { isOwnNavigation } from "../http/fetch-metadata.js";
import { allowedRedirect, type RedirectPolicy } from "../http/redirect-allowlist.js";
import type { AppEnv } from "../runtime.js";

/** What the page's script reads from the HTML (frontend/login/page-config.ts parses it). */
export interface LoginPageConfig {
  haUrl: string;
  /** "confirm-logout": a sign-out that another site started; the page asks before doing it. */
  action: "login" | "logout" | "confirm-logout";
  /** The validated return address, or null. */
  rd: string | null;
  /** Set when an rd was given but is not an allowed target. */
  rdRejected: boolean;
  policy: RedirectPolicy;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON that is safe inside <script type="application/json">: nothing can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function loginContentSecurityPolicy(settings: Settings): string {
  const ws = settings.haUrl.replace(/^http/, "ws");
  return [
    "default-src 'none'",
    "script-src 'self'",
    `connect-src 'self' ${settings.haUrl} ${ws}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }
  main { max-width: 28rem; padding: 2rem; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  #error { color: #c62828; }
  button, .button { font: inherit; padding: .5rem 1rem; margin: .5rem .5rem 0 0; cursor: pointer; }
  small { color: GrayText; }
`;

export function loginPage(config: LoginPageConfig): string {
  const title = config.action === "login" ? "Sign in" : config.action === "logout" ? "Signing out" : "Sign out?";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Home Assistant single sign-on</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
<script type="application/json" id="jwt-cookie-login-config">${scriptJson(config)}</script>
<script type="module" src="/login.js"></script>
</head>
<body>
<main>
<h1 id="title">${title}</h1>
<p id="status" role="status">${config.action === "login" ? "Signing in with Home Assistant…" : config.action === "logout" ? "Signing out…" : ""}</p>
<p id="error" role="alert" hidden></p>
<div id="actions"></div>
<p><small>Identity provider: <span id="ha-url">${escapeHtml(config.haUrl)}</span></small></p>
<noscript><p>This page needs JavaScript to sign in with Home Assistant.</p></noscript>
</main>
</body>
</html>
`;
}

export function loginRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/login", (c) => {
    const { settings } = c.get("runtime");
    const rdRaw = c.req.query("rd");
    const rd = allowedRedirect(rdRaw, settings) ?? null;
    const ownNavigation = isOwnNavigation(
      { secFetchSite: c.req.header("Sec-Fetch-Site"), referer: c.req.header("Referer") },
      { signerOrigin: signerOrigin(c.req.url, settings.publicUrl), cookieDomain: settings.cookie.domain },
    );
    const config: LoginPageConfig = {
      haUrl: settings.haUrl,
      action: c.req.query("action") !== "logout" ? "login" : ownNavigation ? "logout" : "confirm-logout",
      rd,
      rdRejected: rdRaw !== undefined && rdRaw !== "" && rd === null,
      policy: {
        cookie: { domain: settings.cookie.domain },
        haUrl: settings.haUrl,
        publicUrl: settings.publicUrl,
        redirectAllowlist: settings.redirectAllowlist,
      },
    };
    c.header("Content-Security-Policy", loginContentSecurityPolicy(settings));
    c.header("Cache-Control", "no-store");
    // The URL carries the OAuth code after Home Assistant's redirect: never leak it.
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("X-Frame-Options", "DENY");
    return c.html(loginPage(config));
  });

  routes.get("/login.js", (c) => {
    c.header("Cache-Control", "no-cache");
    c.header("ETag", etag);
    c.header("X-Content-Type-Options", "nosniff");
    if (c.req.header("If-None-Match") === etag) return c.body(null, 304);
    return c.body(bundle, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });

  return routes;
}
