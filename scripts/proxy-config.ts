/**
 * npm run proxy-config -- <caddy|nginx|traefik|haproxy> --host <service host> --upstream <url> [...]
 * Prints a complete reverse-proxy config for one protected service, built from the same
 * settings the signer reads (environment, then .dev.vars); with --out DIR, writes it and
 * every file it references (njs script, settings, the signer's public keys) into DIR.
 * Warnings go to stderr, so the output can be redirected straight into a config file.
 */
import { readDevVars } from "./dev-vars.js";
import { buildProxyConfig, writeOutDir } from "./proxy-config/out-dir.js";

const result = await buildProxyConfig(process.argv.slice(2), { ...readDevVars(".dev.vars"), ...process.env });
if (!result.ok) {
  console.error(result.error);
  process.exit(2);
}
for (const warning of result.warnings) console.error(`[proxy-config] ${warning}`);
if (result.request.out !== undefined) {
  for (const path of writeOutDir(result)) console.error(`[proxy-config] wrote ${path}`);
} else {
  process.stdout.write(result.config);
}
