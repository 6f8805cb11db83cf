/**
 * GET /revocations?since=<cursor>: the deny-list feed that local verifiers poll. Reveals
 * the jti and expiry of signed-out sessions only (a revoked jti opens nothing), at most
 * FEED_PAGE_LIMIT per answer; "more": true means ask again at once with the cursor.
 */
import { Hono } from "hono";
import { REVOCATIONS_PATH } from "../checking/check-policy-document.js";
import { HttpError } from "../http/errors.js";
import type { AppEnv } from "../runtime.js";
import { decodeCursor } from "../tokens/revocation-feed.js";

export function revocationRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get(REVOCATIONS_PATH, async (c) => {
    const raw = c.req.query("since");
    const since = raw === undefined || raw === "" ? undefined : decodeCursor(raw);
    if (raw && !since) {
      throw new HttpError(400, "bad_cursor", "since must be a cursor from an earlier /revocations answer, or absent for the whole list.");
    }
    const now = Date.now();
    const page = await c.get("runtime").revocations.changesSince(since, now);
    c.header("Cache-Control", "no-store");
    return c.json({ ...page, server_time: now });
  });
  return routes;
}
