/** Node entry: the same app as on Workers, configured by environment variables. */
import { describeProblems, loadNodeServerSettings } from "./config.js";
import { startNodeServer } from "./node-server.js";

if (typeof WebSocket === "undefined") {
  console.error("[jwt-cookie] This Node has no WebSocket client: use Node 22+, or start Node 20 with --experimental-websocket (npm run start:node does).");
  process.exit(1);
}

const env = { ...process.env };
const loaded = loadNodeServerSettings(env);
if (!loaded.ok) {
  console.error(`[jwt-cookie] ${describeProblems(loaded.problems)}`);
  process.exit(1);
}
const { port, host, trustedProxies, dataDir } = loaded.server;
const signer = await startNodeServer({ env, port, host, trustedProxies, dataDir });
console.log(`[jwt-cookie] signer listening on http://${host}:${signer.port}`);
console.log(
  dataDir === undefined
    ? "[jwt-cookie] DATA_DIR is not set: sign-outs are kept in memory only and a restart forgets them (set DATA_DIR=/var/lib/jwt-cookie)."
    : `[jwt-cookie] sign-outs are kept in ${dataDir}`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void signer.close().then(() => process.exit(0)));
}
