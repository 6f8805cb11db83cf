/**
 * HS256 JWTs exactly as Home Assistant makes them (PyJWT 2.8 via
 * homeassistant.auth.AuthManager.async_create_access_token):
 *   header  {"alg":"HS256","typ":"JWT"}   (PyJWT sorts header keys)
 *   payload {"iss":<refresh token id>,"iat":<int>,"exp":<int>}  (insertion order)
 *   key     the refresh token's jwt_key, a 128-hex-char string used as UTF-8 bytes.
 * Verification mirrors homeassistant.auth.jwt_wrapper.verify_and_decode with
 * leeway=10, issuer=<refresh token id>, algorithms=["HS256"].
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const HEADER_B64 = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString("base64url");
}

function hmac(key: string, data: string): Buffer {
  return createHmac("sha256", Buffer.from(key, "utf8")).update(data).digest();
}

export function signHs256(payload: Record<string, unknown>, key: string): string {
  const body = `${HEADER_B64}.${b64url(JSON.stringify(payload))}`;
  return `${body}.${hmac(key, body).toString("base64url")}`;
}

export interface Decoded {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** jwt_wrapper.unverified_hs256_token_decode: structure only, no signature check. */
export function decodeUnverified(token: string): Decoded | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header: unknown = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    const payload: unknown = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    if (!isObj(header) || !isObj(payload)) return null;
    return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, "base64url") };
  } catch {
    return null;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asNumericDate(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v); // int("123") works in Python
  return null;
}

/**
 * PyJWT claim checks with HA's options: signature, exp, nbf, iat, iss verified,
 * nothing required (HA passes require=[]): exp <= now - leeway is expired,
 * iat/nbf > now + leeway is "not yet valid", iss must equal the refresh token id.
 */
export function verifyHs256(
  d: Decoded,
  key: string,
  issuer: string,
  leewaySeconds: number,
  nowSeconds: number,
): boolean {
  if (d.header["alg"] !== "HS256") return false;
  const expected = hmac(key, d.signingInput);
  if (expected.length !== d.signature.length || !timingSafeEqual(expected, d.signature)) return false;
  const p = d.payload;
  if ("exp" in p) {
    const exp = asNumericDate(p["exp"]);
    if (exp === null || exp <= nowSeconds - leewaySeconds) return false;
  }
  if ("iat" in p) {
    const iat = asNumericDate(p["iat"]);
    if (iat === null || iat > nowSeconds + leewaySeconds) return false;
  }
  if ("nbf" in p) {
    const nbf = asNumericDate(p["nbf"]);
    if (nbf === null || nbf > nowSeconds + leewaySeconds) return false;
  }
  if (p["iss"] !== issuer) return false;
  return true;
}
