/**
 * The table of attacks on our session cookie, as data: each builds a Cookie header from a
 * genuine session (claims + the signer's key) and says what must happen. Used against
 * /verify and against every proxy config, so one list covers every target.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { b64json, b64url, es256, hs256, otherEcKeyPem } from "../support/tokens.js";

export interface GenuineSession {
  jwt: string;
  claims: Record<string, unknown>;
  kid: string;
  privatePem: string; // the signer's key, to forge "validly signed" hostile variants
  publicPem: string;
  cookieName: string;
}

export interface CookieAttack {
  name: string;
  /** The Cookie header to send. */
  cookie(s: GenuineSession): string;
  /** "denied": no access. "allowed-clean": access, but no injected header reaches the upstream. */
  expected: "denied" | "allowed-clean";
}

/** A GenuineSession from a cookie value the signer issued and the signer's private key. */
export function genuineSession(jwt: string, privatePem: string, cookieName = "jwt_access_token"): GenuineSession {
  const [h, p] = jwt.split(".") as [string, string];
  return {
    jwt,
    claims: JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>,
    kid: (JSON.parse(Buffer.from(h, "base64url").toString()) as { kid: string }).kid,
    privatePem,
    publicPem: createPublicKey(createPrivateKey(privatePem)).export({ type: "spki", format: "pem" }).toString(),
    cookieName,
  };
}

const now = () => Math.floor(Date.now() / 1000);
const header = (s: GenuineSession, extra: object = {}) => ({ alg: "ES256", typ: "JWT", kid: s.kid, ...extra });
const signed = (s: GenuineSession, claims: object, extra: object = {}) => es256(header(s, extra), claims, s.privatePem);
const one = (s: GenuineSession, token: string) => `${s.cookieName}=${token}`;

export const COOKIE_ATTACKS: CookieAttack[] = [
  { name: "alg none", expected: "denied", cookie: (s) => one(s, `${b64json({ alg: "none", typ: "JWT", kid: s.kid })}.${b64json(s.claims)}.`) },
  { name: "HS256 signed with the public key", expected: "denied", cookie: (s) => one(s, hs256({ alg: "HS256", typ: "JWT", kid: s.kid }, s.claims, s.publicPem)) },
  { name: "unknown kid", expected: "denied", cookie: (s) => one(s, es256({ alg: "ES256", typ: "JWT", kid: "attacker" }, s.claims, otherEcKeyPem())) },
  { name: "other key, our kid", expected: "denied", cookie: (s) => one(s, es256(header(s), s.claims, otherEcKeyPem())) },
  { name: "jku header injection", expected: "denied", cookie: (s) => one(s, es256(header(s, { jku: "https://evil.example/jwks.json" }), s.claims, otherEcKeyPem())) },
  { name: "jwk header injection", expected: "denied", cookie: (s) => one(s, es256(header(s, { jwk: { kty: "EC", crv: "P-256", x: "AA", y: "AA" } }), s.claims, otherEcKeyPem())) },
  { name: "x5u header injection", expected: "denied", cookie: (s) => one(s, es256(header(s, { x5u: "https://evil.example/cert.pem" }), s.claims, otherEcKeyPem())) },
  { name: "expired", expected: "denied", cookie: (s) => one(s, signed(s, { ...s.claims, iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })) },
  { name: "nbf in the future", expected: "denied", cookie: (s) => one(s, signed(s, { ...s.claims, nbf: now() + 3600 })) },
  { name: "iat far ahead", expected: "denied", cookie: (s) => one(s, signed(s, { ...s.claims, iat: now() + 86_400, nbf: now() - 1 })) },
  { name: "wrong iss", expected: "denied", cookie: (s) => one(s, signed(s, { ...s.claims, iss: "evil" })) },
  { name: "wrong aud", expected: "denied", cookie: (s) => one(s, signed(s, { ...s.claims, aud: ["grafana"] })) },
  {
    name: "payload tampered under a valid header",
    expected: "denied",
    cookie: (s) => {
      const [h, , sig] = s.jwt.split(".");
      return one(s, `${h}.${b64json({ ...s.claims, sub: "0".repeat(32), roles: ["user", "admin", "owner"] })}.${sig}`);
    },
  },
  { name: "truncated signature", expected: "denied", cookie: (s) => one(s, s.jwt.slice(0, -10)) },
  { name: "DER-encoded signature", expected: "denied", cookie: (s) => one(s, es256(header(s), s.claims, s.privatePem, { der: true })) },
  { name: "signature of another token", expected: "denied", cookie: (s) => one(s, `${s.jwt.split(".").slice(0, 2).join(".")}.${b64url(Buffer.alloc(64, 1))}`) },
  { name: "two cookies of our name, different values", expected: "denied", cookie: (s) => `${one(s, s.jwt)}; ${one(s, signed(s, { ...s.claims, sub: "0".repeat(32) }))}` },
  { name: "8 kB cookie", expected: "denied", cookie: (s) => one(s, `${s.jwt.split(".")[0]}.${"A".repeat(8192)}.${s.jwt.split(".")[2]}`) },
  { name: "empty cookie", expected: "denied", cookie: (s) => `${s.cookieName}=` },
  {
    name: "CR/LF and control characters in name",
    expected: "allowed-clean",
    cookie: (s) => one(s, signed(s, { ...s.claims, name: "Eve\r\nRemote-User: admin\r\nX-Injected: 1\u0000\u0007" })),
  },
];

/**
 * For the CR/LF attack: the upstream (or /verify's answer) must have no header named
 * X-Injected, no CR, LF or NUL in any value, and Remote-User still the genuine user.
 */
export function injectionFree(headers: Iterable<[string, string]>, genuineSub: string): boolean {
  for (const [name, value] of headers) {
    if (name.toLowerCase() === "x-injected" || /[\r\n\0]/.test(value)) return false;
    if (name.toLowerCase() === "remote-user" && value !== genuineSub) return false;
  }
  return true;
}
