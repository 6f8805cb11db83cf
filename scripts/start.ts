/**
 * npm start / npm run start:node: the signer on 127.0.0.1:8787 for development or a small
 * self-hosted setup. Makes sure .dev.vars has a SIGNING_KEY (created once and kept, so a
 * restart does not invalidate every cookie) and an HA_URL, prints what to paste into Home
 * Assistant and the proxy, then runs the app in workerd (wrangler dev) or on Node.
 */
import { spawn } from "node:child_process";
import { generateKeyPair } from "../worker/tokens/keys.js";
import { DEFAULT_HA_URL_FOR_DEVELOPMENT } from "../worker/config.js";
import { readDevVars, writeDevVars } from "./dev-vars.js";

const onNode = process.argv.includes("--node");
const path = ".dev.vars";
const vars = readDevVars(path);
let changed = false;
if (!vars.SIGNING_KEY && !process.env.SIGNING_KEY) {
  vars.SIGNING_KEY = (await generateKeyPair()).privatePem;
  changed = true;
  console.log(`[jwt-cookie] created a development signing key in ${path} (kept across restarts; never commit it)`);
}
if (!vars.HA_URL && !process.env.HA_URL) {
  vars.HA_URL = DEFAULT_HA_URL_FOR_DEVELOPMENT;
  changed = true;
}
if (changed) writeDevVars(path, vars);

const port = process.env.PORT ?? "8787";
const signer = `http://127.0.0.1:${port}`;
const ha = process.env.HA_URL ?? vars.HA_URL;
console.log(`
[jwt-cookie] signer for ${ha} on ${signer}

Home Assistant (configuration.yaml):
  frontend:
    extra_module_url:
      - /hacsfiles/jwt-cookie/jwt-cookie.js?signer=${signer}
  panel_custom:
    - name: jwt-cookie-panel
      sidebar_title: Services
      sidebar_icon: mdi:cookie-lock
      url_path: jwt-cookie
      module_url: /hacsfiles/jwt-cookie/jwt-cookie.js
      config:
        signer_url: ${signer}

Reverse proxy:
  forward auth:  ${signer}/verify
  public key:    ${signer}/public-key.pem   (JWKS: ${signer}/.well-known/jwks.json)
  configs:       npm run proxy-config -- <caddy|nginx|traefik|haproxy> --host <service host> --upstream <url>
  local verifier (next to Caddy/Traefik, no request to the signer per page view):
                 SIGNER_URL=${signer} npm run verifier   (forward auth to http://127.0.0.1:8788/verify)
${
  vars.HA_TOKEN || process.env.HA_TOKEN || vars.LOCAL_ONLY_CHECK || process.env.LOCAL_ONLY_CHECK
    ? ""
    : `
Before the first sign-in, add one of these to ${path} (see docs/self-hosting.md, "Local-only users"):
  HA_TOKEN=<long-lived access token of a dedicated Home Assistant administrator>
  LOCAL_ONLY_CHECK=false   (no user of yours has "Can only log in from the local network")
Without either the signer cannot see local-only users and issues no cookie.
`
}`);

const offline = { CI: "true", WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const child = onNode
  ? spawn(process.execPath, ["--experimental-websocket", "--import", "tsx", "worker/node.ts"], {
      stdio: "inherit",
      // Sign-outs survive a restart of the development signer (.local/ is gitignored).
      env: { DATA_DIR: ".local", ...vars, ...process.env, PORT: port },
    })
  : spawn("npx", ["wrangler", "dev", "--ip", "127.0.0.1", "--port", port, "--show-interactive-dev-session=false"], {
      stdio: "inherit",
      env: { ...process.env, ...offline },
    });
child.on("exit", (code) => process.exit(code ?? 0));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
