/** Issues the session JWT that proxies check (jose's SignJWT): ES256, `kid` = RFC 7638 thumbprint. */
import { SignJWT } from "jose";
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

export function signJwt(keys: KeyRing, claims: SessionClaims): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keys.current.kid }).sign(keys.signingKey);
}
