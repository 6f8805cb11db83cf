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

export function newTokenId(): string {
  return encodeBytes(crypto.getRandomValues(new Uint8Array(16)));
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

export async function signJwt(keys: KeyRing, claims: object): Promise<string> {
  const header = encodeText(JSON.stringify({ alg: "ES256", typ: "JWT", kid: keys.current.kid }));
  const payload = encodeText(JSON.stringify(claims));
  const input = `${header}.${payload}`;
  // WebCrypto's ECDSA signature is already the raw r||s form that JWS (RFC 7518 §3.4) wants.
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    keys.signingKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${encodeBytes(new Uint8Array(signature))}`;
}
