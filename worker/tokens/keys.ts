/**
 * The signer's key ring, through jose: the private key is imported non-extractable and never
 * leaves this module's CryptoKey; public keys and kids come from tokens/public-keys.ts, which
 * is all that the checkers (verifier, gate) need.
 */
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair as generateJoseKeyPair, importJWK, importPKCS8, type JWK } from "jose";
import { KeyError, publicEntry, thumbprint, type PublicKeyEntry } from "./public-keys.js";

export { KeyError, importPublicKeys, thumbprint, type PublicKeyEntry } from "./public-keys.js";

const ALG = "ES256";

export interface KeyRing {
  signingKey: CryptoKey; // sign-only, not extractable
  current: PublicKeyEntry;
  /** Current first, then previous keys still accepted. */
  accepted: PublicKeyEntry[];
  publicKeyPem: string;
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
