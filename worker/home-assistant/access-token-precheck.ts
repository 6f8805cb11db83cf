/**
 * Decides locally whether a Home Assistant access token can possibly be valid, WITHOUT its
 * key. Home Assistant counts every rejected token as a failed login and may ban the sender's
 * address, so anything that is visibly not a live HA access token must never be sent.
 */
import { base64url, decodeJwt, decodeProtectedHeader } from "jose";
import { BoundedCache } from "../bounded-cache.js";
import { isCanonicalBase64url } from "../tokens/canonical-base64url.js";

/** Home Assistant verifies with 10 s leeway (homeassistant/auth/__init__.py). */
export const HA_LEEWAY_SECONDS = 10;
/** Real access tokens are about 200 characters; long-lived ones the same. */
export const MAX_HA_TOKEN_LENGTH = 2048;
/**
 * Only tokens up to this length have their claims remembered. Home Assistant's are 183
 * characters (header, iss, iat, exp); anyone can make well-formed ones up to
 * MAX_HA_TOKEN_LENGTH without Home Assistant ever seeing them, and 10,000 of those
 * remembered would hold over 20 MB. Longer ones are checked all the same, just not kept.
 */
export const MAX_REMEMBERED_TOKEN_LENGTH = 256;
const REFRESH_TOKEN_ID = /^[0-9a-f]{32}$/;

export type PrecheckResult =
  | { ok: true; issuer: string; expiresAt: number /* unix seconds */ }
  | { ok: false; reason: "malformed" | "not_hs256" | "bad_issuer" | "expired" | "not_yet_valid"; detail: string };

/** What an access token says about itself; the same whenever the same token is read. */
interface AccessTokenClaims {
  issuer: string;
  expiresAt: number;
  issuedAt: number;
  notBefore: number | undefined;
}

type ReadResult = { ok: true; claims: AccessTokenClaims } | Extract<PrecheckResult, { ok: false }>;

/** Every check that does not depend on the time: the token's shape, algorithm and claims. */
function readAccessToken(token: string): ReadResult {
  if (token.length > MAX_HA_TOKEN_LENGTH) {
    return { ok: false, reason: "malformed", detail: "is far longer than a Home Assistant access token" };
  }
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) {
    return { ok: false, reason: "malformed", detail: "is not a JWT (three base64url parts separated by dots)" };
  }
  if (!parts.every(isCanonicalBase64url)) {
    return { ok: false, reason: "malformed", detail: "does not decode as a JWT" };
  }
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch {
    return { ok: false, reason: "malformed", detail: "does not decode as a JWT" };
  }
  const signature = base64url.decode(parts[2]!);
  // HS256 signatures are exactly 32 bytes.
  if (header.alg !== "HS256" || signature.length !== 32) {
    return { ok: false, reason: "not_hs256", detail: "is not an HS256 token as Home Assistant issues them" };
  }
  if (typeof payload.iss !== "string" || !REFRESH_TOKEN_ID.test(payload.iss)) {
    return { ok: false, reason: "bad_issuer", detail: "has no Home Assistant refresh-token id (32 hex) as issuer" };
  }
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp) || typeof payload.iat !== "number") {
    return { ok: false, reason: "malformed", detail: "has no numeric exp/iat claims" };
  }
  const notBefore = typeof payload.nbf === "number" ? payload.nbf : undefined;
  return { ok: true, claims: { issuer: payload.iss, expiresAt: payload.exp, issuedAt: payload.iat, notBefore } };
}

/** The checks against the clock, on what readAccessToken read. */
function checkTimes(claims: AccessTokenClaims, nowSeconds: number): PrecheckResult {
  // Not past exp, although Home Assistant allows 10 s more: it checks when the token arrives, on
  // its own clock and to the fraction of a second, so a token sent within that leeway could be
  // refused there (a failed login) and read as the end of its session. The leeway is left for
  // the trip and for clock differences.
  if (nowSeconds >= claims.expiresAt) {
    return { ok: false, reason: "expired", detail: "has expired; refresh it (hass.auth.refreshAccessToken()) and try again" };
  }
  // PyJWT, which Home Assistant uses, refuses iat and nbf in the future (beyond the leeway).
  if (claims.issuedAt > nowSeconds + HA_LEEWAY_SECONDS || (claims.notBefore !== undefined && claims.notBefore > nowSeconds + HA_LEEWAY_SECONDS)) {
    return { ok: false, reason: "not_yet_valid", detail: "is not valid yet; check the clocks of this device and of the signer" };
  }
  return { ok: true, issuer: claims.issuer, expiresAt: claims.expiresAt };
}

export function precheckAccessToken(token: string, nowSeconds: number): PrecheckResult {
  const read = readAccessToken(token);
  return read.ok ? checkTimes(read.claims, nowSeconds) : read;
}

export interface AccessTokenPrecheck {
  /** The same answer as precheckAccessToken(token, nowSeconds). */
  check(token: string, nowSeconds: number): PrecheckResult;
  /** Tokens whose claims are remembered (for the memory-bound tests). */
  readonly size: number;
}

/**
 * precheckAccessToken, remembering what each well-formed token of a real token's length says
 * about itself (keyed by the token itself, until its exp) so that a token sent again and
 * again (a browser renewing, several tabs) is not decoded again each time. The clock checks
 * run on every call.
 */
export function createAccessTokenPrecheck(maxEntries: number): AccessTokenPrecheck {
  const read = new BoundedCache<string, AccessTokenClaims>(maxEntries);
  return {
    get size() {
      return read.size;
    },
    check(token, nowSeconds) {
      const nowMs = nowSeconds * 1000;
      const known = read.get(token, nowMs);
      if (known) return checkTimes(known, nowSeconds);
      const fresh = readAccessToken(token);
      if (!fresh.ok) return fresh;
      // Until its exp: from then on the clock check refuses the token whatever it says.
      if (fresh.claims.expiresAt * 1000 > nowMs && token.length <= MAX_REMEMBERED_TOKEN_LENGTH) read.set(token, fresh.claims, fresh.claims.expiresAt * 1000);
      return checkTimes(fresh.claims, nowSeconds);
    },
  };
}
