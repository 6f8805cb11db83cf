/** Issues the session JWT that proxies check: ES256, `kid` = RFC 7638 thumbprint. */
import { encodeBytes, encodeText } from "./base64url.js";
import type { KeyRing } from "./keys.js";

export interface SessionClaims {
  sub: string;
  name: string;
  roles: string[];
  aud: string[];
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

export interface SessionIdentity {
  id: string;
  name: string;
  is_admin: boolean;
  is_owner: boolean;
}

/** Roles as the original Python integration wrote them, so existing proxy rules keep working. */
export function rolesOf(user: SessionIdentity): string[] {
  const roles = ["user"];
  if (user.is_admin) roles.push("admin");
  if (user.is_owner) roles.push("owner");
  return roles;
}

/** 122 random bits; randomUUID is Web-standard and far cheaper than getRandomValues on Node. */
export function newTokenId(): string {
  return crypto.randomUUID();
}

export function sessionClaims(
  user: SessionIdentity,
  options: { issuer: string; audience: string[]; ttl: number; now: number },
): SessionClaims {
  const iat = Math.floor(options.now / 1000);
  return {
    sub: user.id,
    name: user.name,
    roles: rolesOf(user),
    aud: options.audience,
    iss: options.issuer,
    iat,
    nbf: iat,
    exp: iat + options.ttl,
    jti: newTokenId(),
  };
}

const encodedHeaders = new WeakMap<KeyRing, string>();
const encoder = new TextEncoder();

export async function signJwt(keys: KeyRing, claims: object): Promise<string> {
  let header = encodedHeaders.get(keys);
  if (header === undefined) {
    header = encodeText(JSON.stringify({ alg: "ES256", typ: "JWT", kid: keys.current.kid }));
    encodedHeaders.set(keys, header);
  }
  const input = `${header}.${encodeText(JSON.stringify(claims))}`;
  // WebCrypto's ECDSA signature is already the raw r||s form that JWS (RFC 7518 §3.4) wants.
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.signingKey, encoder.encode(input));
  return `${input}.${encodeBytes(new Uint8Array(signature))}`;
}
