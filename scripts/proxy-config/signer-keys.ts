/**
 * The signer's public keys for native checkers, fetched from its JWKS (current and previous
 * keys) and turned into SPKI PEM files, the one form both njs (no JWK import) and HAProxy's
 * jwt_verify read. Each key is named by its kid, which is checked to be the key's RFC 7638
 * thumbprint, as the signer makes it.
 */
import { calculateJwkThumbprint, exportSPKI, importJWK, type JWK } from "jose";

export interface SignerKey {
  kid: string;
  pem: string;
}

export async function fetchSignerKeys(signer: string, fetchImpl: typeof fetch = fetch): Promise<SignerKey[]> {
  const url = `${signer}/.well-known/jwks.json`;
  let body: unknown;
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(10_000) });
    if (response.status !== 200) throw new Error(`it answered ${response.status}`);
    body = await response.json();
  } catch (error) {
    throw new Error(
      `Cannot fetch the signer's public keys from ${url} (${(error as Error).message}). Start the signer, or point --signer at where this machine reaches it.`,
    );
  }
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${url} holds no keys: is --signer really the jwt-cookie signer?`);
  return Promise.all(
    keys.map(async (raw: unknown) => {
      const jwk = raw as JWK;
      if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string" || "d" in jwk) {
        throw new Error(`${url} holds a key that is not a P-256 public key.`);
      }
      const kid = await calculateJwkThumbprint({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y });
      if (jwk.kid !== undefined && jwk.kid !== kid) throw new Error(`${url}: key "${String(jwk.kid)}" is not named by its thumbprint (${kid}).`);
      const key = await importJWK({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, "ES256", { extractable: true });
      return { kid, pem: `${(await exportSPKI(key as CryptoKey)).trimEnd()}\n` };
    }),
  );
}
