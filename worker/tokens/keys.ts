/**
 * Key import and identification. The private key is imported non-extractable and never
 * leaves this module's CryptoKey; everything else only ever sees public material.
 */
import { encodeBytes } from "./base64url.js";

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

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

/** RFC 7638 thumbprint of an EC public key: the members in lexicographic order, no spaces. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return encodeBytes(new Uint8Array(digest));
}

function pemBody(pem: string, label: string): Uint8Array<ArrayBuffer> | undefined {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!match) return undefined;
  const b64 = match[1]!.replace(/\s+/g, "");
  try {
    const binary = atob(b64);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

export function toPem(der: ArrayBuffer, label: string): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

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
      return await crypto.subtle.importKey("jwk", { kty, crv, x, y, d, ext: true }, EC, true, ["sign"]);
    } catch {
      throw new KeyError("SIGNING_KEY is a JWK that is not a valid P-256 key: create a new one with npm run keygen.");
    }
  }
  if (trimmed.includes("BEGIN EC PRIVATE KEY")) {
    throw new KeyError(
      "SIGNING_KEY is a SEC1 (\"EC PRIVATE KEY\") PEM: convert it with `openssl pkcs8 -topk8 -nocrypt -in key.pem` or create one with npm run keygen.",
    );
  }
  const der = pemBody(trimmed, "PRIVATE KEY");
  if (!der) {
    throw new KeyError('SIGNING_KEY is neither a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") nor a private JWK: create one with npm run keygen.');
  }
  try {
    return await crypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
  } catch {
    throw new KeyError("SIGNING_KEY is a PKCS#8 PEM but not a P-256 (prime256v1) EC key: ES256 needs P-256; create one with npm run keygen.");
  }
}

async function publicEntry(jwk: JsonWebKey): Promise<PublicKeyEntry> {
  const base = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("jwk", base, EC, true, ["verify"]);
  } catch {
    throw new KeyError("PREVIOUS_PUBLIC_KEYS contains a key that is not a point on P-256: remove it or paste it again.");
  }
  const kid = await thumbprint(base);
  return { kid, key, jwk: { ...base, kid, alg: "ES256", use: "sig" } };
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
  const privateJwk = await crypto.subtle.exportKey("jwk", extractable);
  // Re-import so the key we keep can never be exported, whatever a later bug does.
  const signingKey = await crypto.subtle.importKey("jwk", privateJwk, EC, false, ["sign"]);
  const current = await publicEntry(privateJwk);
  const spki = await crypto.subtle.exportKey("spki", current.key);
  const accepted = [current];
  for (const jwk of previous) {
    const entry = await publicEntry(jwk);
    if (!accepted.some((e) => e.kid === entry.kid)) accepted.push(entry);
  }
  return { signingKey, current, accepted, publicKeyPem: toPem(spki as ArrayBuffer, "PUBLIC KEY") };
}

/** A fresh P-256 key pair, for the key tool and the development start. */
export async function generateKeyPair(): Promise<{ privatePem: string; privateJwk: JsonWebKey; publicJwk: JsonWebKey; publicPem: string; kid: string }> {
  const pair = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = (await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer;
  const spki = (await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer;
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const { kty, crv, x, y } = privateJwk;
  const kid = await thumbprint({ kty, crv, x, y });
  return {
    privatePem: toPem(pkcs8, "PRIVATE KEY"),
    privateJwk: { kty, crv, x, y, d: privateJwk.d },
    publicJwk: { kty, crv, x, y, kid, alg: "ES256", use: "sig" } as JsonWebKey,
    publicPem: toPem(spki, "PUBLIC KEY"),
    kid,
  };
}

