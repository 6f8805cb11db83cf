/** Builders for hostile and valid tokens, shared by the signer, proxy and security tests. */
import { createHmac, createPrivateKey, generateKeyPairSync, sign as nodeSign } from "node:crypto";

export const b64url = (data: string | Buffer | Uint8Array): string => Buffer.from(data).toString("base64url");
export const b64json = (value: unknown): string => b64url(JSON.stringify(value));

/** A Home Assistant-shaped access token (HS256, iss = 32 hex), signed with a key HA would not know. */
export function fakeHaToken(options: { exp?: number; iat?: number; iss?: string; alg?: string; key?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64json({ alg: options.alg ?? "HS256", typ: "JWT" });
  const payload = b64json({ iss: options.iss ?? "0123456789abcdef0123456789abcdef", iat: options.iat ?? now, exp: options.exp ?? now + 1800 });
  const input = `${header}.${payload}`;
  return `${input}.${createHmac("sha256", options.key ?? "not-home-assistant").update(input).digest("base64url")}`;
}

/** Signs any header/payload with an ES256 PEM private key through node:crypto (not our code). */
export function es256(header: object, payload: object, privatePem: string, options: { der?: boolean } = {}): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const signature = nodeSign("sha256", Buffer.from(input), {
    key: createPrivateKey(privatePem),
    dsaEncoding: options.der ? "der" : "ieee-p1363",
  });
  return `${input}.${b64url(signature)}`;
}

export function hs256(header: object, payload: object, secret: string | Buffer): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

export function otherEcKeyPem(): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}
