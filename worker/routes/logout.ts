/**
 * POST /logout (CORS from the Home Assistant frontend, or the confirmation page's form) and
 * GET /logout?rd=<url> (sign-out links): end every session this browser presents, clear our
 * cookie with the same Name, Domain and Path (and the stray variants a sibling host may have
 * planted), then redirect to rd when it is an allowed target; a disallowed rd is a 400 that
 * changes nothing.
 * A GET changes state only when it is the user's own navigation (Sec-Fetch-Site none,
 * same-origin or same-site, e.g. a protected service's sign-out link): a link on another site
 * gets a confirmation page whose button POSTs, so no page elsewhere can sign anyone out.
 */
import { Hono, type Context } from "hono";
import { clearedCookie } from "../http/cookie.js";
import { corsForAllowedOrigins, signerOrigin } from "../http/cors.js";
import { HttpError } from "../http/errors.js";
import { isOwnNavigation } from "../http/fetch-metadata.js";
import { allowedRedirect } from "../http/redirect-allowlist.js";
import { strayCookieClearings } from "../http/stray-cookies.js";
import type { AppEnv } from "../runtime.js";
import { presentedCookieSessions } from "./presented-session.js";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The rd of a sign-out, validated; undefined when none was given; a 400 when it is not allowed. */
function signOutTarget(c: Context<AppEnv>, rd: string | undefined): string | undefined {
  if (rd === undefined) return undefined;
  const target = allowedRedirect(rd, c.get("runtime").settings);
  if (!target) {
    throw new HttpError(
      400,
      "redirect_not_allowed",
      "The rd target is not an allowed address: it must be an http(s) URL under COOKIE_DOMAIN or listed in REDIRECT_ALLOWLIST. Nothing was changed.",
    );
  }
  return target;
}

/**
 * Ends every session the cookies present, valid ones of any user included: a copied cookie
 * must stop working at /verify too (with every cookie of the same Home Assistant session), and a valid cookie planted beside the user's (which makes
 * the checks refuse both) stops counting, which ends that lock-out wherever it is sent.
 */
async function signOut(c: Context<AppEnv>): Promise<void> {
  const { settings, revocations, haSessions } = c.get("runtime");
  const now = Date.now();
  const presented = await presentedCookieSessions(c);
  for (const session of presented.valid) {
    await revocations.revoke(session.claims.jti, session.claims.exp, now);
    // So must the cookies it replaced on renewal, issued for the same Home Assistant session.
    await haSessions.signOut(session.claims.jti, now);
  }
  c.header("Set-Cookie", clearedCookie(settings));
  const signerHost = new URL(signerOrigin(c.req.url, settings.publicUrl)).hostname;
  for (const clearing of strayCookieClearings(settings, signerHost)) c.header("Set-Cookie", clearing, { append: true });
  c.header("Cache-Control", "no-store");
}

/** The one-click confirmation for a sign-out link that another site sent the browser to. */
function confirmationPage(c: Context<AppEnv>, target: string | undefined): Response {
  // form-action must allow the redirect after the POST too (browsers check it on redirects).
  const formAction = ["'self'", ...(target ? [new URL(target).origin] : [])].join(" ");
  c.header(
    "Content-Security-Policy",
    `default-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
  );
  c.header("X-Frame-Options", "DENY");
  c.header("X-Content-Type-Options", "nosniff");
  // Not no-referrer: with it, the form's same-origin POST would carry "Origin: null" and be refused.
  c.header("Referrer-Policy", "same-origin");
  c.header("Cache-Control", "no-store");
  const rd = target ? `<input type="hidden" name="rd" value="${escapeHtml(target)}">` : "";
  const back = target ? `<p><a href="${escapeHtml(target)}">Stay signed in and go back</a></p>` : "";
  return c.html(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sign out? · Home Assistant single sign-on</title>
</head>
<body>
<main>
<h1>Sign out?</h1>
<p>A link asked to sign you out of Home Assistant single sign-on in this browser. Nothing has changed yet.</p>
<form method="post" action="/logout">${rd}<button type="submit">Sign out</button></form>
${back}
</main>
</body>
</html>
`,
    200,
  );
}

function signedOutPage(c: Context<AppEnv>): Response {
  c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  c.header("X-Content-Type-Options", "nosniff");
  return c.html(
    `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>Signed out · Home Assistant single sign-on</title><h1>Signed out</h1><p>You are signed out of Home Assistant single sign-on in this browser.</p></html>\n`,
  );
}

function isFormPost(c: Context<AppEnv>): boolean {
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "application/x-www-form-urlencoded" || type === "multipart/form-data";
}

export function logoutRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("/logout", corsForAllowedOrigins());

  routes.post("/logout", async (c) => {
    if (!isFormPost(c)) {
      await signOut(c);
      return c.json({ signed_out: true });
    }
    // The confirmation page's form (same origin: the CORS middleware checked Origin).
    const body = await c.req.parseBody().catch(() => {
      throw new HttpError(400, "bad_form", "The sign-out form could not be read. Nothing was changed.");
    });
    const rd = typeof body.rd === "string" && body.rd !== "" ? body.rd : undefined;
    const target = signOutTarget(c, rd);
    await signOut(c);
    return target ? c.redirect(target, 303) : signedOutPage(c);
  });

  routes.get("/logout", async (c) => {
    const { settings } = c.get("runtime");
    const target = signOutTarget(c, c.req.query("rd"));
    const own = isOwnNavigation(
      { secFetchSite: c.req.header("Sec-Fetch-Site"), referer: c.req.header("Referer") },
      { signerOrigin: signerOrigin(c.req.url, settings.publicUrl), cookieDomain: settings.cookie.domain },
    );
    if (!own) return confirmationPage(c, target);
    await signOut(c);
    if (target) return c.redirect(target, 302);
    return c.json({ signed_out: true });
  });

  return routes;
}
