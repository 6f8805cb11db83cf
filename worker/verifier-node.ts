/**
 * Node entry of the local verifier (npm run verifier): checks cookies next to a proxy that
 * cannot (Caddy, Traefik, nginx without njs) with the signer's public keys and a copy of
 * its deny-list. Configured by SIGNER_URL (+ PORT, HOST, REVOCATIONS_POLL, ...); holds no
 * private key and never talks to Home Assistant.
 */
import { describeProblems, loadVerifierSettings } from "./config.js";
import { startVerifierServer } from "./verifier-node-server.js";

const loaded = loadVerifierSettings({ ...process.env });
if (!loaded.ok) {
  console.error(`[jwt-cookie verifier] ${describeProblems(loaded.problems)}`);
  process.exit(1);
}
const { settings } = loaded;
const verifier = await startVerifierServer(settings);
console.log(
  `[jwt-cookie verifier] listening on http://${settings.host}:${verifier.port}/verify for the signer at ${settings.signerUrl} (deny-list polled every ${settings.revocationsPollMs / 1000} s; ${
    settings.proxyApprovalCacheSeconds ? `an nginx whose generated config keys its cache by the visitor's cookie may reuse an approval for ${settings.proxyApprovalCacheSeconds} s` : "no approval reused by a proxy"
  })`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void verifier.close().then(() => process.exit(0)));
}
