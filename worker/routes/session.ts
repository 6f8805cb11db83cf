/**
 * POST /session: a Home Assistant access token in, our ES256 JWT cookie out.
 * GET  /session: whether this browser sent our cookie and whether it is valid, without
 *                revealing it (for the panel's diagnostics).
 * Order matters: origin -> rate limit -> header -> local pre-check -> Home Assistant ->
 * sign -> record for the Home Assistant session -> cookie. Any failure throws before the
 * cookie line, so no failure sets a cookie. Home Assistant refusing a token it accepted
 * before revokes every cookie issued for that session (tokens/ha-session-index.ts).
 */
import { Hono } from "hono";
import type { BanGuardState } from "../home-assistant/ban-guard.js";
import { HomeAssistantError, type HomeAssistantFailure } from "../home-assistant/errors.js";
import type { DirectoryStatus } from "../home-assistant/user-directory.js";
import { MAX_HA_TOKEN_LENGTH } from "../home-assistant/access-token-precheck.js";
import { clientKey } from "../http/client-key.js";
import { sessionCookie } from "../http/cookie.js";
import { corsForAllowedOrigins, signerOrigin } from "../http/cors.js";
import { HttpError } from "../http/errors.js";
import { strayCookieClearings } from "../http/stray-cookies.js";
import type { AppEnv, ClientAddress } from "../runtime.js";
import { presentedCookieSessions, presentedSession } from "./presented-session.js";

const HA_FAILURES: Record<HomeAssistantFailure, { status: 401 | 403 | 429 | 502 | 503 | 504; code: string }> = {
  rejected: { status: 401, code: "token_rejected" },
  inactive: { status: 403, code: "user_inactive" },
  local_only: { status: 403, code: "user_local_only" },
  client_held_back: { status: 429, code: "too_many_rejected_tokens" },
  guard_held_back: { status: 503, code: "ha_ban_guard" },
  local_only_unchecked: { status: 503, code: "local_only_check_unavailable" },
  unreachable: { status: 502, code: "ha_unreachable" },
  protocol: { status: 502, code: "ha_protocol" },
  timeout: { status: 504, code: "ha_timeout" },
};

function signerNotices(localOnlyCheck: boolean, guard: BanGuardState, directory: DirectoryStatus): string[] {
  const notices: string[] = [];
  if (guard.breaker_open || guard.service_token === "rejected") notices.push(guard.message);
  if (localOnlyCheck && directory.check === "unavailable") {
    notices.push(
      `The signer issues no cookie: it cannot see Home Assistant's local-only users (${directory.reason}). Give it an administrator's HA_TOKEN, or set LOCAL_ONLY_CHECK=off.`,
    );
  }
  return notices;
}

function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === "") {
    throw new HttpError(401, "missing_token", "Send the Home Assistant access token as \"Authorization: Bearer <token>\".");
  }
  if (header.length > MAX_HA_TOKEN_LENGTH + 16) {
    throw new HttpError(400, "malformed_token", "The Authorization header is far longer than a Home Assistant access token.");
  }
  const match = /^Bearer +([^\s]+)\s*$/i.exec(header);
  if (!match) {
    throw new HttpError(400, "bad_authorization", "Only the Bearer scheme is accepted: \"Authorization: Bearer <Home Assistant access token>\".");
  }
  return match[1]!;
}

export function sessionRoutes(clientAddress: ClientAddress): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("/session", corsForAllowedOrigins());

  routes.post("/session", async (c) => {
    const { settings, accessTokens, identity, sessions, haSessions, rateLimiter, userDirectory } = c.get("runtime");
    const now = Date.now();
    const client = clientKey(clientAddress(c));
    const wait = rateLimiter.take(client, now);
    if (wait > 0) {
      throw new HttpError(429, "rate_limited", `Too many sign-in attempts from this address; try again in ${wait} s.`, {
        "Retry-After": String(wait),
      });
    }
    const token = bearerToken(c.req.header("Authorization"));
    const check = accessTokens.check(token, Math.floor(now / 1000));
    if (!check.ok) {
      const expired = check.reason === "expired";
      throw new HttpError(
        expired ? 401 : 400,
        expired ? "token_expired" : "malformed_token",
        `The Home Assistant access token ${check.detail}. It was not sent to Home Assistant.`,
      );
    }

    // A valid cookie of ours marks a signed-in user renewing (ban-guard.ts keeps a slot for them).
    const previous = await presentedCookieSessions(c);
    const haToken = { token, issuer: check.issuer, expiresAt: check.expiresAt };
    let user;
    try {
      user = await identity.lookup(token, haToken, now, { client, trusted: previous.valid.length > 0 });
    } catch (error) {
      if (!(error instanceof HomeAssistantError)) throw error;
      let refusal = error;
      if (error.isVerdict) {
        // Home Assistant's "no" to a token it accepted before ends that session's cookies too.
        const ended = await haSessions.endIfAccepted(haToken, Date.now());
        // Over the WebSocket a deactivated user's token gets the same auth_invalid as a revoked
        // one; with an administrator's HA_TOKEN the user list tells the two apart.
        if (ended && error.failure === "rejected") refusal = (await userDirectory.refusalOf(ended.userId)) ?? error;
      }
      const { status, code } = HA_FAILURES[refusal.failure];
      const wait = refusal.retryAfterSeconds;
      throw new HttpError(status, code, refusal.message, wait === undefined ? {} : { "Retry-After": String(wait) });
    }

    // Another user's cookie in this browser (a user switch, or one planted beside it) stops working everywhere now.
    for (const session of previous.valid) {
      if (session.claims.sub !== user.id) await c.get("runtime").revocations.revoke(session.claims.jti, session.claims.exp, now);
    }

    const { jwt, claims } = await sessions.issue(token, user, now);
    if (!(await haSessions.record(haToken, claims, now))) {
      throw new HttpError(401, HA_FAILURES.rejected.code, "Home Assistant ended this session while the request was under way; sign in again.");
    }
    // More than one value under our name, or one that does not verify: someone else's cookie
    // may be in the way; clear the variants the signer can name before setting ours.
    if (previous.cookieValues > 1 || (previous.cookieValues === 1 && previous.valid.length === 0)) {
      const signerHost = new URL(signerOrigin(c.req.url, settings.publicUrl)).hostname;
      for (const clearing of strayCookieClearings(settings, signerHost)) c.header("Set-Cookie", clearing, { append: true });
    }
    c.header("Set-Cookie", sessionCookie(settings, jwt, claims.exp - Math.floor(now / 1000)), { append: true });
    c.header("Cache-Control", "no-store");
    return c.json({
      user: { id: user.id, name: user.name, is_admin: user.is_admin, is_owner: user.is_owner },
      roles: claims.roles,
      expires_at: claims.exp,
      issued_at: claims.iat,
      server_time: Math.floor(now / 1000),
      cookie: { name: settings.cookie.name, domain: settings.cookie.domain ?? null, secure: settings.cookie.secure },
    });
  });

  routes.get("/session", async (c) => {
    const { settings, banGuard, userDirectory } = c.get("runtime");
    c.header("Cache-Control", "no-store");
    const base = {
      server_time: Math.floor(Date.now() / 1000),
      cookie_name: settings.cookie.name,
      // Conditions of the signer that stop sign-ins, in words, for the panel's diagnostics.
      notices: signerNotices(settings.localOnlyCheck, banGuard.state, userDirectory.status),
    };
    const session = await presentedSession(c, { acceptBearer: false });
    if (!session.ok && session.reason === "no_session") return c.json({ ...base, present: false, valid: false });
    if (!session.ok) return c.json({ ...base, present: true, valid: false, reason: session.reason });
    const { sub, name, roles, exp, iat } = session.claims;
    return c.json({ ...base, present: true, valid: true, expires_at: exp, issued_at: iat, claims: { sub, name, roles } });
  });

  return routes;
}
