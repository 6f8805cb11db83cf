/**
 * Verifies our own session JWTs (for /verify). Only ES256 with a known `kid`, only the
 * raw 64-byte signature form, only the header members we issue; then exp/nbf/iat with a
 * small leeway, iss and aud. Verified tokens are cached (bounded) until they expire, so a
 * repeated check is a lookup rather than an ECDSA verification.
 */
import { BoundedCache } from "../bounded-cache.js";
import { decodeBytes, decodeJsonObject } from "./base64url.js";
import type { KeyRing, PublicKeyEntry } from "./keys.js";
import type { SessionClaims } from "./sign.js";

export const VERIFY_LEEWAY_SECONDS = 10;
/** Longer than any real token can be; refuses 8 kB garbage before any parsing work. */
export const MAX_TOKEN_LENGTH = 4096;

export type VerifyFailure =
  | "malformed"
  | "unsupported_header"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "wrong_issuer"
  | "wrong_audience"
  | "bad_claims"
  | "revoked";

export type VerifyResult = { ok: true; claims: SessionClaims } | { ok: false; reason: VerifyFailure };

const ALLOWED_HEADER_MEMBERS = new Set(["alg", "typ", "kid"]);

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function checkTimes(claims: SessionClaims, nowSeconds: number): VerifyFailure | undefined {
  if (nowSeconds > claims.exp + VERIFY_LEEWAY_SECONDS) return "expired";
  if (claims.nbf > nowSeconds + VERIFY_LEEWAY_SECONDS) return "not_yet_valid";
  if (claims.iat > nowSeconds + VERIFY_LEEWAY_SECONDS) return "issued_in_future";
  return undefined;
}

export interface Verifier {
  verify(token: string, nowMs: number): Promise<VerifyResult>;
}

/** Only the accepted public keys are used, so the verifier role can pass keys it fetched (no private key). */
export function createVerifier(
  keys: Pick<KeyRing, "accepted">,
  options: { issuer: string; audience: string[]; cacheMaxEntries: number },
): Verifier {
  const verified = new BoundedCache<string, SessionClaims>(options.cacheMaxEntries);
  const byKid = new Map(keys.accepted.map((entry) => [entry.kid, entry]));
  // Genuine tokens share one header per key: remember which header parts were acceptable.
  const acceptedHeaders = new BoundedCache<string, PublicKeyEntry>(64);
  const encoder = new TextEncoder();

  function keyForHeader(headerPart: string): PublicKeyEntry | VerifyFailure {
    const known = acceptedHeaders.get(headerPart, 0);
    if (known) return known;
    const header = decodeJsonObject(headerPart);
    if (!header) return "malformed";
    if (header.alg !== "ES256" || Object.keys(header).some((k) => !ALLOWED_HEADER_MEMBERS.has(k))) return "unsupported_header";
    if (header.typ !== undefined && header.typ !== "JWT") return "unsupported_header";
    const entry = typeof header.kid === "string" ? byKid.get(header.kid) : undefined;
    if (!entry) return "unknown_key";
    acceptedHeaders.set(headerPart, entry, Number.POSITIVE_INFINITY);
    return entry;
  }

  async function verifyUncached(token: string, now: number): Promise<VerifyResult> {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, reason: "malformed" };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const entry = keyForHeader(headerPart);
    if (typeof entry === "string") return { ok: false, reason: entry };
    const signature = decodeBytes(signaturePart);
    // 64 bytes = r||s; a DER-encoded signature (about 70 bytes) is refused, never converted.
    if (!signature || signature.length !== 64) return { ok: false, reason: "bad_signature" };
    const valid = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      entry.key,
      signature,
      encoder.encode(`${headerPart}.${payloadPart}`),
    );
    if (!valid) return { ok: false, reason: "bad_signature" };

    const payload = decodeJsonObject(payloadPart);
    if (
      !payload ||
      typeof payload.sub !== "string" ||
      payload.sub === "" ||
      typeof payload.name !== "string" ||
      !isStringArray(payload.roles) ||
      typeof payload.exp !== "number" ||
      typeof payload.iat !== "number" ||
      typeof payload.nbf !== "number" ||
      typeof payload.iss !== "string" ||
      typeof payload.jti !== "string" ||
      !(typeof payload.aud === "string" || isStringArray(payload.aud))
    ) {
      return { ok: false, reason: "bad_claims" };
    }
    const claims = payload as unknown as SessionClaims;
    const timeProblem = checkTimes(claims, Math.floor(now / 1000));
    if (timeProblem) return { ok: false, reason: timeProblem };
    if (claims.iss !== options.issuer) return { ok: false, reason: "wrong_issuer" };
    const audiences = typeof payload.aud === "string" ? [payload.aud] : claims.aud;
    if (!audiences.some((a) => options.audience.includes(a))) return { ok: false, reason: "wrong_audience" };
    return { ok: true, claims };
  }

  return {
    async verify(token, now) {
      if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "malformed" };
      const cached = verified.get(token, now);
      if (cached) {
        // A cached token was fully valid once; only time can have changed since.
        const timeProblem = checkTimes(cached, Math.floor(now / 1000));
        return timeProblem ? { ok: false, reason: timeProblem } : { ok: true, claims: cached };
      }
      const result = await verifyUncached(token, now);
      if (result.ok) verified.set(token, result.claims, (result.claims.exp + VERIFY_LEEWAY_SECONDS) * 1000);
      return result;
    },
  };
}
