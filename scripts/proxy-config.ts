/**
 * npm run proxy-config -- <caddy|nginx|traefik|haproxy> --host <service host> --upstream <url> [...]
 * Prints a complete reverse-proxy config for one protected service, built from the same
 * settings the signer reads (environment, then .dev.vars). Warnings go to stderr, so the
 * output can be redirected straight into a config file.
 */
import { readDevVars } from "./dev-vars.js";
import { generateProxyConfig } from "./proxy-config/generate.js";

const result = generateProxyConfig(process.argv.slice(2), { ...readDevVars(".dev.vars"), ...process.env });
if (!result.ok) {
  console.error(result.error);
  process.exit(2);
}
for (const warning of result.warnings) console.error(`[proxy-config] ${warning}`);
process.stdout.write(result.config);
