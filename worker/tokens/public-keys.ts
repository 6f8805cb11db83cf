/**
 * Public keys and their ids, through jose: what every checker holds (the signer's accepted
 * keys, the verifier's copy of the signer's JWKS). Nothing here touches a private key; the
 * signing key is tokens/keys.ts's alone.
 */
import { calculateJwkThumbprint, importJWK, type JWK } from "jose";

export interface PublicKeyEntry {
  kid: string;
  jwk: JsonWebKey & { kid: string; alg: "ES256"; use: "sig" };
  key: CryptoKey; // verify-only
}

/** Thrown when a key (setting or JWKS) cannot be used; its message says what to do. */
export class KeyError extends Error {}

const ALG = "ES256";

/** RFC 7638 thumbprint of the EC public key: the `kid` of our tokens. */
export function thumbprint(jwk: JsonWebKey): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK, "sha256");
}

/** One public key as a checker holds it: imported for verifying, with its RFC 7638 kid. */
export async function publicEntry(jwk: JsonWebKey): Promise<PublicKeyEntry> {
  const base = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  let key: CryptoKey;
  try {
    // Extractable: it is public, and exportSPKI needs to read it.
    key = (await importJWK(base as JWK, ALG, { extractable: true })) as CryptoKey;
  } catch {
    throw new KeyError("PREVIOUS_PUBLIC_KEYS contains a key that is not a point on P-256: remove it or paste it again.");
  }
  const kid = await thumbprint(base);
  return { kid, key, jwk: { ...base, kid, alg: ALG, use: "sig" } };
}

/**
 * Public keys from a JWKS (the verifier fetches the signer's): P-256 EC keys only, each
 * identified by its RFC 7638 thumbprint whatever kid the document gives. Throws KeyError
 * when a key is not usable, so a bad document never replaces a good key set.
 */
export async function importPublicKeys(jwks: unknown): Promise<PublicKeyEntry[]> {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new KeyError("the JWKS has no keys");
  const entries: PublicKeyEntry[] = [];
  for (const key of keys) {
    const k = key as Record<string, unknown> | null;
    if (!k || typeof k !== "object" || "d" in k || k.kty !== "EC" || k.crv !== "P-256" || typeof k.x !== "string" || typeof k.y !== "string") {
      throw new KeyError("the JWKS holds a key that is not a P-256 EC public key");
    }
    let entry: PublicKeyEntry;
    try {
      entry = await publicEntry(k as JsonWebKey);
    } catch {
      throw new KeyError("the JWKS holds a key that is not a point on P-256");
    }
    if (!entries.some((e) => e.kid === entry.kid)) entries.push(entry);
  }
  return entries;
}

