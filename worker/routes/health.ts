/** GET /healthz: is the configuration valid? Public facts only, never secrets. */
import { Hono } from "hono";
import type { AppEnv } from "../runtime.js";

export function healthRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/healthz", (c) => {
    const { settings, keys, revocations, banGuard, userDirectory } = c.get("runtime");
    const directory = userDirectory.status;
    c.header("Cache-Control", "no-store");
    return c.json({
      status: "ok",
      ha_url: settings.haUrl,
      kid: keys.current.kid,
      accepted_kids: keys.accepted.map((k) => k.kid),
      cookie: { ...settings.cookie, domain: settings.cookie.domain ?? null },
      token_ttl: settings.tokenTtl,
      allowed_origins: settings.allowedOrigins,
      revocation:
        revocations.kind === "kv"
          ? "kv"
          : revocations.kind === "file"
            ? "file (kept across restarts in DATA_DIR)"
            : "memory (this process or isolate only; on Workers bind a KV namespace as REVOKED_SESSIONS, on Node set DATA_DIR)",
      ha_guard: {
        ...banGuard.state,
        rejections_per_client: settings.haGuard.rejectionsPerClient,
        rejection_window: settings.haGuard.rejectionWindowSeconds,
      },
      local_only_check:
        directory.check === "unavailable"
          ? {
              status: "unavailable",
              reason: directory.reason,
              warning: settings.localOnlyCheck
                ? "No cookie is issued until the signer can see Home Assistant's local-only users: give it an administrator's HA_TOKEN, or set LOCAL_ONLY_CHECK=off."
                : "LOCAL_ONLY_CHECK=off: local-only Home Assistant users get cookies that work from anywhere.",
            }
          : { status: directory.check },
    });
  });
  return routes;
}
