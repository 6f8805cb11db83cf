/**
 * Cookies a proxy must refuse, made with jose and node:crypto: each is wrong in exactly one
 * way, and those signed with the signer's own key are otherwise perfectly valid.
 */
import { createHmac, createPublicKey } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importPKCS8, SignJWT, type JWTPayload } from "jose";

export interface ForgeryKit {
  /** A valid token signed with the signer's key, with `changes` applied to the claims. */
  signed(changes?: Partial<JWTPayload> & Record<string, unknown>): Promise<string>;
  /** name -> token: every way of being wrong that the tests cover. */
  forgeries(genuine: string): Promise<Array<[string, string]>>;
}

function b64(value: string | Buffer): string {
  return Buffer.from(value).toString("base64url");
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

export async function forgeryKit(signingKeyPem: string, claims: { sub: string; name: string; roles: string[] }): Promise<ForgeryKit> {
  const privateKey = await importPKCS8(signingKeyPem, "ES256");
  const publicKey = createPublicKey(signingKeyPem);
  const publicJwk = publicKey.export({ format: "jwk" });
  const kid = await calculateJwkThumbprint({ kty: "EC", crv: publicJwk.crv!, x: publicJwk.x!, y: publicJwk.y! });
  const publicPem = publicKey.export({ format: "pem", type: "spki" }).toString();

  const base = (changes: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { sub: claims.sub, name: claims.name, roles: claims.roles, aud: ["homeassistant"], iss: "homeassistant", iat: now, nbf: now, exp: now + 600, jti: "forged", ...changes };
  };
  const sign = (payload: Record<string, unknown>, key = privateKey, keyId = kid) =>
    new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keyId }).sign(key);

  return {
    signed: (changes) => sign(base(changes)),
    async forgeries(genuine) {
      const [header, payload, signature] = genuine.split(".") as [string, string, string];
      const now = Math.floor(Date.now() / 1000);
      const other = await generateKeyPair("ES256");
      const otherKid = await calculateJwkThumbprint(await exportJWK(other.publicKey));
      const unsignedHeader = (alg: string) => b64(JSON.stringify({ alg, typ: "JWT", kid }));
      const escalated = b64(JSON.stringify({ ...decodePart(payload), roles: ["user", "admin", "owner"], name: "Mallory" }));
      const hsInput = `${unsignedHeader("HS256")}.${b64(JSON.stringify(base()))}`;
      return [
        ["tampered payload (roles raised, signature kept)", `${header}.${escalated}.${signature}`],
        ["tampered signature", `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith("AAAA") ? "BBBB" : "AAAA"}`],
        ["expired (beyond the leeway)", await sign(base({ iat: now - 7200, nbf: now - 7200, exp: now - 3600 }))],
        ["not yet valid (nbf in an hour)", await sign(base({ nbf: now + 3600, exp: now + 7200 }))],
        ["wrong aud", await sign(base({ aud: ["someone-else"] }))],
        ["wrong iss", await sign(base({ iss: "evil" }))],
        ["signed with another key (its own kid)", await sign(base(), other.privateKey, otherKid)],
        ["signed with another key (the signer's kid)", await sign(base(), other.privateKey, kid)],
        ["alg none", `${unsignedHeader("none")}.${b64(JSON.stringify(base()))}.`],
        ["HS256 signed with the public key PEM", `${hsInput}.${createHmac("sha256", publicPem).update(hsInput).digest("base64url")}`],
        ["garbage", "not.a.jwt"],
      ];
    },
  };
}
