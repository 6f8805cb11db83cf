/**
 * Key import and identification, through jose. The private key is imported non-extractable
 * and never leaves this module's CryptoKey; everything else only ever sees public material.
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair as generateJoseKeyPair, importJWK, importPKCS8, type JWK } from "jose";

export interface PublicKeyEntry {
  kid: string;
  jwk: JsonWebKey & { kid: string; alg: "ES256"; use: "sig" };
  key: CryptoKey; // verify-only
}

export interface KeyRing {
  signingKey: CryptoKey; // sign-only, not extractable
  current: PublicKeyEntry;
  /** Current first, then previous keys still accepted. */
  accepted: PublicKeyEntry[];
  publicKeyPem: string;
}

export class KeyError extends Error {}

const ALG = "ES256";

/** RFC 7638 thumbprint of the EC public key: the `kid` of our tokens. */
export function thumbprint(jwk: JsonWebKey): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK, "sha256");
}

/** jose's PEM has no final line break; ours always had one (files, /public-key.pem). */
const pemFile = (pem: string) => `${pem}\n`;

/** Accepts PKCS#8 PEM ("BEGIN PRIVATE KEY") or a private JWK (JSON with d). */
async function importExtractablePrivate(text: string): Promise<CryptoKey> {
  const trimmed = text.trim().replace(/\\n/g, "\n");
  if (trimmed.startsWith("{")) {
    let jwk: JsonWebKey;
    try {
      jwk = JSON.parse(trimmed) as JsonWebKey;
    } catch {
      throw new KeyError("SIGNING_KEY looks like JSON but does not parse: paste the whole private JWK printed by npm run keygen.");
    }
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.d !== "string") {
      throw new KeyError('SIGNING_KEY must be a P-256 private key (JWK with kty "EC", crv "P-256" and "d"): create one with npm run keygen.');
    }
    const { kty, crv, x, y, d } = jwk;
    try {
      return (await importJWK({ kty, crv, x, y, d } as JWK, ALG, { extractable: true })) as CryptoKey;
    } catch {
      throw new KeyError("SIGNING_KEY is a JWK that is not a valid P-256 key: create a new one with npm run keygen.");
    }
  }
  if (trimmed.includes("BEGIN EC PRIVATE KEY")) {
    throw new KeyError(
      "SIGNING_KEY is a SEC1 (\"EC PRIVATE KEY\") PEM: convert it with `openssl pkcs8 -topk8 -nocrypt -in key.pem` or create one with npm run keygen.",
    );
  }
  // Only locates the block (text around it was always tolerated); jose decodes it.
  const pem = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/.exec(trimmed)?.[0];
  if (!pem) {
    throw new KeyError('SIGNING_KEY is neither a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") nor a private JWK: create one with npm run keygen.');
  }
  try {
    return await importPKCS8(pem, ALG, { extractable: true });
  } catch {
    throw new KeyError("SIGNING_KEY is a PKCS#8 PEM but not a P-256 (prime256v1) EC key: ES256 needs P-256; create one with npm run keygen.");
  }
}

async function publicEntry(jwk: JsonWebKey): Promise<PublicKeyEntry> {
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

export async function importKeyRing(signingKeyText: string, previous: JsonWebKey[]): Promise<KeyRing> {
  const extractable = await importExtractablePrivate(signingKeyText);
  // WebCrypto cannot derive the public key from a private CryptoKey: read x and y from the
  // JWK form here, then re-import the private key so the one we keep can never be exported.
  const { kty, crv, x, y, d } = await exportJWK(extractable);
  const signingKey = (await importJWK({ kty, crv, x, y, d }, ALG, { extractable: false })) as CryptoKey;
  const current = await publicEntry({ x, y });
  const accepted = [current];
  for (const jwk of previous) {
    const entry = await publicEntry(jwk);
    if (!accepted.some((e) => e.kid === entry.kid)) accepted.push(entry);
  }
  return { signingKey, current, accepted, publicKeyPem: pemFile(await exportSPKI(current.key)) };
}

/** A fresh P-256 key pair, for the key tool and the development start. */
export async function generateKeyPair(): Promise<{ privatePem: string; privateJwk: JsonWebKey; publicJwk: JsonWebKey; publicPem: string; kid: string }> {
  const pair = await generateJoseKeyPair(ALG, { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(pair.privateKey);
  const kid = await thumbprint({ kty, crv, x, y });
  return {
    privatePem: pemFile(await exportPKCS8(pair.privateKey)),
    privateJwk: { kty, crv, x, y, d },
    publicJwk: { kty, crv, x, y, kid, alg: ALG, use: "sig" } as JsonWebKey,
    publicPem: pemFile(await exportSPKI(pair.publicKey)),
    kid,
  };
}
