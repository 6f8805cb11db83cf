/**
 * Creates the signer's P-256 key.
 *   npm run keygen                 print a new key and the commands that install it
 *   npm run keygen -- --rotate     new key + PREVIOUS_PUBLIC_KEYS that keep the current one accepted
 *   add --dev-vars to write the result into .dev.vars instead of only printing it
 *   add --json to print only the settings as JSON (for scripts)
 * The current key for --rotate is read from $SIGNING_KEY, else from .dev.vars.
 */
import { importKeyRing, generateKeyPair } from "../worker/tokens/keys.js";
import { readDevVars, writeDevVars } from "./dev-vars.js";

const args = new Set(process.argv.slice(2));
const rotate = args.has("--rotate");
const toDevVars = args.has("--dev-vars");
const asJson = args.has("--json");
const devVarsPath = ".dev.vars";

const key = await generateKeyPair();
const devVars = readDevVars(devVarsPath);
const updates: Record<string, string> = { SIGNING_KEY: key.privatePem };

if (rotate) {
  const current = process.env.SIGNING_KEY ?? devVars.SIGNING_KEY;
  if (!current) {
    console.error("--rotate needs the current key: set SIGNING_KEY in the environment or in .dev.vars.");
    process.exit(1);
  }
  const previousRaw = process.env.PREVIOUS_PUBLIC_KEYS ?? devVars.PREVIOUS_PUBLIC_KEYS;
  const previous = previousRaw ? ((JSON.parse(previousRaw) as { keys: JsonWebKey[] }).keys ?? []) : [];
  const ring = await importKeyRing(current, previous);
  const keep = ring.accepted.map((entry) => ({ kty: "EC", crv: "P-256", x: entry.jwk.x, y: entry.jwk.y, kid: entry.kid }));
  updates.PREVIOUS_PUBLIC_KEYS = JSON.stringify({ keys: keep });
}

if (asJson) {
  console.log(JSON.stringify({ ...updates, kid: key.kid, publicKeyPem: key.publicPem, publicJwk: key.publicJwk }));
  process.exit(0);
}

console.log(`# New ES256 (P-256) signing key, kid ${key.kid}\n`);
console.log("## SIGNING_KEY (private, PKCS#8 PEM). Keep it secret.\n");
console.log(key.privatePem);
console.log("## Public key (SPKI PEM), for proxies that read a key file\n");
console.log(key.publicPem);
console.log("## Public key (JWK)\n");
console.log(JSON.stringify(key.publicJwk), "\n");
if (updates.PREVIOUS_PUBLIC_KEYS) {
  console.log("## PREVIOUS_PUBLIC_KEYS (cookies signed by these stay valid; remove after TOKEN_TTL has passed)\n");
  console.log(updates.PREVIOUS_PUBLIC_KEYS, "\n");
}
console.log("## Next steps");
console.log("Cloudflare Workers:  npx wrangler secret put SIGNING_KEY   (paste the private key above)");
if (updates.PREVIOUS_PUBLIC_KEYS) console.log("                     npx wrangler secret put PREVIOUS_PUBLIC_KEYS   (paste the JSON above)");
console.log("Node:                export SIGNING_KEY=\"$(cat signing-key.pem)\"   (or run this with --dev-vars)");
console.log("Proxies reading the PEM must be reloaded; proxies reading /.well-known/jwks.json pick the key up by themselves.");

if (toDevVars) {
  writeDevVars(devVarsPath, { ...devVars, ...updates });
  console.log(`\nWrote ${Object.keys(updates).join(", ")} to ${devVarsPath}.`);
}
