/**
 * Verifies our own session JWTs (for /verify) with jose's jwtVerify against a local JWK set
 * (the current key and PREVIOUS_PUBLIC_KEYS), ES256 only, iss, aud and required claims.
 * Around it, the few checks jose does not make the way we need them: only the header
 * members we issue, only canonical base64url (one token, one spelling), the claim shapes,
 * and exp/nbf/iat with our 10 s leeway. Verified tokens are cached (bounded) until they
 * expire, so a repeated check is a lookup rather than an ECDSA verification.
 */
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWK, type JWTPayload } from "jose";
import { BoundedCache } from "../bounded-cache.js";
import { isCanonicalBase64url } from "./canonical-base64url.js";
import type { KeyRing } from "./keys.js";
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
const REQUIRED_CLAIMS = ["sub", "name", "roles", "iss", "aud", "iat", "nbf", "exp", "jti"];
/** 64 bytes of r||s in base64url; a DER signature (about 70 bytes) is refused, never converted. */
const SIGNATURE_LENGTH = 86;

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/** The claim shapes jose does not check (it checks presence, iss, aud and that times are numbers). */
function hasSessionShape(payload: JWTPayload): boolean {
  return (
    typeof payload.sub === "string" &&
    payload.sub !== "" &&
    typeof payload.name === "string" &&
    isStringArray(payload.roles) &&
    typeof payload.exp === "number" &&
    typeof payload.iat === "number" &&
    typeof payload.nbf === "number" &&
    typeof payload.iss === "string" &&
    typeof payload.jti === "string" &&
    (typeof payload.aud === "string" || isStringArray(payload.aud))
  );
}

/**
 * The first moment (ms) at which a token with this `exp` is refused as expired (checkTimes
 * accepts it up to exp + leeway, in whole seconds). Whatever must hold for as long as the
 * token is accepted lasts until then: above all a sign-out on the deny-list, which would
 * otherwise let a signed-out cookie back in for the leeway's last seconds.
 */
export function refusedFromMs(exp: number): number {
  return (exp + VERIFY_LEEWAY_SECONDS + 1) * 1000;
}

/**
 * Our time rule, shared with the cached path and HAProxy's generated config: valid while
 * now <= exp + leeway, and nbf and iat (which jose does not check) at most leeway ahead.
 */
export function checkTimes(claims: SessionClaims, nowSeconds: number): VerifyFailure | undefined {
  if (nowSeconds > claims.exp + VERIFY_LEEWAY_SECONDS) return "expired";
  if (claims.nbf > nowSeconds + VERIFY_LEEWAY_SECONDS) return "not_yet_valid";
  if (claims.iat > nowSeconds + VERIFY_LEEWAY_SECONDS) return "issued_in_future";
  return undefined;
}

/** What is wrong with signed claims, in the order of precedence /verify has always reported. */
function claimsProblem(payload: JWTPayload, nowSeconds: number): VerifyFailure | undefined {
  if (!hasSessionShape(payload)) return "bad_claims";
  return checkTimes(payload as unknown as SessionClaims, nowSeconds);
}

/** jose's verdict as one of our reasons; anything that is not a JOSE error is a bug and is thrown. */
function reasonFor(error: unknown, nowSeconds: number): VerifyFailure {
  if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired) {
    const ownProblem = claimsProblem(error.payload, nowSeconds);
    if (ownProblem) return ownProblem;
    if (error.claim === "iss") return "wrong_issuer";
    if (error.claim === "aud") return "wrong_audience";
    return "bad_claims";
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (error instanceof errors.JWTInvalid) return "bad_claims"; // signed, but not a JSON object
  if (error instanceof errors.JWKSNoMatchingKey) return "unknown_key";
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return "unsupported_header";
  if (error instanceof errors.JOSEError) return "malformed";
  throw error;
}

export interface Verifier {
  verify(token: string, nowMs: number): Promise<VerifyResult>;
  /** Changes whenever the accepted keys change (a verifier built on fixed keys: never). */
  keysVersion(): number;
}

/** Only the accepted public keys are used, so the verifier role can pass keys it fetched (no private key). */
export function createVerifier(
  keys: Pick<KeyRing, "accepted">,
  options: { issuer: string; audience: string[]; cacheMaxEntries: number },
): Verifier {
  const verified = new BoundedCache<string, SessionClaims>(options.cacheMaxEntries);
  const keySet = createLocalJWKSet({ keys: keys.accepted.map((entry) => entry.jwk as JWK) });
  const knownKids = new Set(keys.accepted.map((entry) => entry.kid));
  // Genuine tokens share one header per key: remember which header parts passed the check.
  const acceptedHeaders = new BoundedCache<string, true>(64);
  const joseOptions = {
    algorithms: ["ES256"],
    issuer: options.issuer,
    audience: options.audience,
    requiredClaims: REQUIRED_CLAIMS,
    // jose refuses exp <= now - tolerance; our rule refuses exp < now - leeway. One second
    // more for jose leaves every boundary to checkTimes, so nothing moves by a second.
    clockTolerance: VERIFY_LEEWAY_SECONDS + 1,
  };

  /** Exactly the header we issue: alg ES256, typ JWT or absent, a kid we know, nothing else. */
  function headerProblem(token: string, headerPart: string): VerifyFailure | undefined {
    if (acceptedHeaders.get(headerPart, 0)) return undefined;
    if (!isCanonicalBase64url(headerPart)) return "malformed";
    let members: Record<string, unknown>;
    try {
      members = decodeProtectedHeader(token) as Record<string, unknown>; // a JSON object, or it throws
    } catch {
      return "malformed";
    }
    if (members.alg !== "ES256" || Object.keys(members).some((k) => !ALLOWED_HEADER_MEMBERS.has(k))) return "unsupported_header";
    if (members.typ !== undefined && members.typ !== "JWT") return "unsupported_header";
    if (typeof members.kid !== "string" || !knownKids.has(members.kid)) return "unknown_key";
    acceptedHeaders.set(headerPart, true, Number.POSITIVE_INFINITY);
    return undefined;
  }

  async function verifyUncached(token: string, now: number): Promise<VerifyResult> {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, reason: "malformed" };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const headerFailure = headerProblem(token, headerPart);
    if (headerFailure) return { ok: false, reason: headerFailure };
    if (signaturePart.length !== SIGNATURE_LENGTH || !isCanonicalBase64url(signaturePart)) return { ok: false, reason: "bad_signature" };
    // We never sign a payload spelled otherwise, so no signature of ours can cover one.
    if (!isCanonicalBase64url(payloadPart)) return { ok: false, reason: "bad_signature" };
    const nowSeconds = Math.floor(now / 1000);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet, { ...joseOptions, currentDate: new Date(now) }));
    } catch (error) {
      return { ok: false, reason: reasonFor(error, nowSeconds) };
    }
    const problem = claimsProblem(payload, nowSeconds);
    return problem ? { ok: false, reason: problem } : { ok: true, claims: payload as unknown as SessionClaims };
  }

  return {
    keysVersion: () => 0,
    async verify(token, now) {
      if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "malformed" };
      const cached = verified.get(token, now);
      if (cached) {
        // A cached token was fully valid once; only time can have changed since.
        const timeProblem = checkTimes(cached, Math.floor(now / 1000));
        return timeProblem ? { ok: false, reason: timeProblem } : { ok: true, claims: cached };
      }
      const result = await verifyUncached(token, now);
      if (result.ok) verified.set(token, result.claims, refusedFromMs(result.claims.exp));
      return result;
    },
  };
}
