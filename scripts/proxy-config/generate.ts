/** Turns a proxy-config command line plus the signer's settings into the config text. */
import type { Env } from "../../worker/config.js";
import { caddyConfig } from "./caddy.js";
import { haproxyConfig } from "./haproxy.js";
import { nginxConfig } from "./nginx.js";
import { parseProxyConfigArgs } from "./request.js";
import { traefikConfig } from "./traefik.js";

export type GenerateResult = { ok: true; config: string; warnings: string[] } | { ok: false; error: string };

export function generateProxyConfig(argv: string[], env: Env): GenerateResult {
  const parsed = parseProxyConfigArgs(argv, env);
  if (!parsed.ok) return parsed;
  const { request, settings, warnings } = parsed;
  const config =
    request.proxy === "caddy"
      ? caddyConfig(request)
      : request.proxy === "nginx"
        ? nginxConfig(request)
        : request.proxy === "haproxy"
          ? haproxyConfig(request, settings)
          : traefikConfig(request);
  return { ok: true, config, warnings };
}
