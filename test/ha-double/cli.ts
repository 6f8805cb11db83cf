/**
 * Run the Home Assistant double for local demos:
 *
 *   npm run ha-double            # port 8123
 *   npm run ha-double -- 18123   # or HA_DOUBLE_PORT=18123 npm run ha-double
 *
 * Creates one admin user (username "demo", password "demo") and prints a valid access
 * token (30 min), a long-lived token (10 years) and the URLs. Ctrl-C stops it.
 * Optional env: HA_DOUBLE_HOST (default 127.0.0.1), HA_DOUBLE_LOGIN_ATTEMPTS_THRESHOLD,
 * HA_DOUBLE_CORS_ORIGINS (comma-separated).
 */
import { startHomeAssistantDouble } from "./index.js";

function parsePort(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`invalid port: ${v}`);
    process.exit(2);
  }
  return n;
}

const port = parsePort(process.argv[2]) ?? parsePort(process.env["HA_DOUBLE_PORT"]) ?? 8123;
const host = process.env["HA_DOUBLE_HOST"] || "127.0.0.1";
const threshold = process.env["HA_DOUBLE_LOGIN_ATTEMPTS_THRESHOLD"];
const cors = process.env["HA_DOUBLE_CORS_ORIGINS"];

const ha = await startHomeAssistantDouble({
  port,
  host,
  ...(threshold ? { loginAttemptsThreshold: Number(threshold) } : {}),
  ...(cors ? { corsAllowedOrigins: cors.split(",").map((s) => s.trim()).filter(Boolean) } : {}),
});
const user = ha.addUser({ name: "Demo", username: "demo", password: "demo", is_owner: true, is_admin: true });
const accessToken = ha.accessToken(user.id);
const longLived = ha.longLivedToken(user.id);

console.log(`Home Assistant double listening on ${ha.url}`);
console.log(`  REST:       ${ha.url}/api/`);
console.log(`  WebSocket:  ${ha.url.replace(/^http/, "ws")}/api/websocket`);
console.log(`  Authorize:  ${ha.url}/auth/authorize?response_type=code&client_id=<client>&redirect_uri=<uri>&state=<state>`);
console.log(`  Token:      ${ha.url}/auth/token`);
console.log(`User "demo" / password "demo" (id ${user.id}, admin, owner)`);
console.log(`Access token (30 min):\n${accessToken}`);
console.log(`Long-lived access token (3650 days):\n${longLived}`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  void ha.close().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
