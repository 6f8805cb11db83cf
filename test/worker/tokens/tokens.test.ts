import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { describe, expect, test } from "vitest";
import { importKeyRing, generateKeyPair, KeyError, thumbprint } from "../../../worker/tokens/keys.js";
import { jwksOf } from "../../../worker/tokens/jwks.js";
import { sessionClaims, signJwt } from "../../../worker/tokens/sign.js";
import { createVerifier, MAX_TOKEN_LENGTH } from "../../../worker/tokens/verify.js";
import { b64json, b64url, es256, hs256, otherEcKeyPem } from "../../support/tokens.js";

const user = { id: "be4b440c8b354852a65ab9d42e9d77c4", name: "testuser", is_admin: true, is_owner: false };
const options = { issuer: "homeassistant", audience: ["homeassistant"], cacheMaxEntries: 100 };

async function setup() {
  const pair = await generateKeyPair();
  const keys = await importKeyRing(pair.privatePem, []);
  const now = Date.now();
  const claims = sessionClaims(user, { ...options, ttl: 1800, now });
  const jwt = await signJwt(keys, claims);
  return { pair, keys, now, claims, jwt, verifier: createVerifier(keys, options) };
}

describe("keys", () => {
  test("kid is the RFC 7638 thumbprint (RFC 7638 §3.1 example adapted to EC)", async () => {
    // Independent computation: canonical JSON with members in lexicographic order.
    const jwk = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" };
    const expected = b64url(new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`)),
    ));
    expect(await thumbprint(jwk)).toBe(expected);
  });

  test("PKCS#8 PEM and private JWK give the same key ring; the private key is not extractable", async () => {
    const pair = await generateKeyPair();
    const fromPem = await importKeyRing(pair.privatePem, []);
    const fromJwk = await importKeyRing(JSON.stringify(pair.privateJwk), []);
    expect(fromPem.current.kid).toBe(pair.kid);
    expect(fromJwk.current.kid).toBe(pair.kid);
    expect(fromPem.signingKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("jwk", fromPem.signingKey)).rejects.toThrow();
    expect(JSON.stringify(jwksOf(fromPem))).not.toContain('"d"');
    expect(fromPem.publicKeyPem).toBe(pair.publicPem);
  });

  test("the PEMs are exactly node:crypto's (final line break included), and text around a PEM is tolerated", async () => {
    const { createPrivateKey } = await import("node:crypto");
    const pair = await generateKeyPair();
    const nodeKey = createPrivateKey(pair.privatePem);
    expect(pair.privatePem).toBe(nodeKey.export({ type: "pkcs8", format: "pem" }).toString());
    expect(pair.publicPem).toBe(createPublicKey(nodeKey).export({ type: "spki", format: "pem" }).toString());
    const ring = await importKeyRing(`key:\n${pair.privatePem}\n(end)`, []);
    expect(ring.publicKeyPem).toBe(pair.publicPem);
  });

  test("a PEM pasted with literal \\n (as in .dev.vars or a dashboard) imports", async () => {
    const pair = await generateKeyPair();
    expect((await importKeyRing(pair.privatePem.replace(/\n/g, "\\n"), [])).current.kid).toBe(pair.kid);
  });

  test.each([
    ["garbage", "hello"],
    ["SEC1 PEM", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"],
    ["broken PEM", "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----"],
    ["RSA-looking JWK", '{"kty":"RSA","n":"x","e":"AQAB","d":"y"}'],
    ["public JWK", '{"kty":"EC","crv":"P-256","x":"a","y":"b"}'],
    ["bad JSON", "{nope"],
  ])("%s is refused with a KeyError that says what to do", async (_label, text) => {
    const error = await importKeyRing(text, []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyError);
    expect(String((error as Error).message)).toMatch(/SIGNING_KEY/);
  });

  test("a P-384 PKCS#8 key is refused (ES256 needs P-256)", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const pem = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    await expect(importKeyRing(pem, [])).rejects.toBeInstanceOf(KeyError);
  });

  test("previous keys appear in the JWKS after the current one, deduplicated", async () => {
    const a = await generateKeyPair();
    const b = await generateKeyPair();
    const ring = await importKeyRing(a.privatePem, [b.publicJwk, a.publicJwk, b.publicJwk]);
    expect(jwksOf(ring).keys.map((k) => (k as { kid: string }).kid)).toEqual([a.kid, b.kid]);
    for (const k of jwksOf(ring).keys) expect(k).toMatchObject({ alg: "ES256", use: "sig", kty: "EC", crv: "P-256" });
  });
});

describe("signing", () => {
  test("the JWT verifies with node:crypto against the PEM and the JWKS, with the specified claims", async () => {
    const { jwt, keys, claims, now } = await setup();
    const [h, p, s] = jwt.split(".") as [string, string, string];
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    expect(header).toEqual({ alg: "ES256", typ: "JWT", kid: keys.current.kid });
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    const iat = Math.floor(now / 1000);
    expect(payload).toEqual({
      sub: user.id,
      name: "testuser",
      roles: ["user", "admin"],
      aud: ["homeassistant"],
      iss: "homeassistant",
      iat,
      nbf: iat,
      exp: iat + 1800,
      jti: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    expect(payload).toEqual(claims);
    const signature = Buffer.from(s, "base64url");
    expect(signature.length).toBe(64);
    for (const key of [createPublicKey(keys.publicKeyPem), createPublicKey({ key: jwksOf(keys).keys[0] as never, format: "jwk" })]) {
      expect(nodeVerify("sha256", Buffer.from(`${h}.${p}`), { key, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);
    }
  });

  test("roles follow is_admin and is_owner", async () => {
    const opts = { ...options, ttl: 60, now: Date.now() };
    expect(sessionClaims({ ...user, is_admin: false }, opts).roles).toEqual(["user"]);
    expect(sessionClaims({ ...user, is_owner: true }, opts).roles).toEqual(["user", "admin", "owner"]);
    expect(sessionClaims(user, opts).jti).not.toBe(sessionClaims(user, opts).jti);
  });
});

describe("verifying", () => {
  test("our own token verifies, and again from the cache", async () => {
    const { jwt, verifier, now, claims } = await setup();
    expect(await verifier.verify(jwt, now)).toEqual({ ok: true, claims });
    expect(await verifier.verify(jwt, now + 1000)).toEqual({ ok: true, claims });
  });

  test("a cached token still expires", async () => {
    const { jwt, verifier, now } = await setup();
    expect((await verifier.verify(jwt, now)).ok).toBe(true);
    expect(await verifier.verify(jwt, now + 1811_000)).toEqual({ ok: false, reason: "expired" });
  });

  test("every kind of bad token is refused with its reason", async () => {
    const { pair, keys, verifier, now, claims, jwt } = await setup();
    const kid = keys.current.kid;
    const t = Math.floor(now / 1000);
    const good = { alg: "ES256", typ: "JWT", kid };
    const [h, p, s] = jwt.split(".") as [string, string, string];
    const cases: Array<[string, string, string]> = [
      ["empty", "", "malformed"],
      ["two parts", `${h}.${p}`, "malformed"],
      ["four parts", `${jwt}.x`, "malformed"],
      ["header not JSON", `${b64url("nope")}.${p}.${s}`, "malformed"],
      ["header an array", `${b64url("[]")}.${p}.${s}`, "malformed"],
      ["padding", `${h}=.${p}.${s}`, "malformed"],
      ["alg none", `${b64json({ alg: "none", typ: "JWT", kid })}.${p}.`, "unsupported_header"],
      ["alg none upper", `${b64json({ alg: "NONE", kid })}.${p}.`, "unsupported_header"],
      ["HS256 with the public key", hs256({ alg: "HS256", typ: "JWT", kid }, claims, keys.publicKeyPem), "unsupported_header"],
      ["RS256 claim", `${b64json({ alg: "RS256", kid })}.${p}.${s}`, "unsupported_header"],
      ["jku injection", es256({ ...good, jku: "https://evil.example/jwks" }, claims, pair.privatePem), "unsupported_header"],
      ["jwk injection", es256({ ...good, jwk: { kty: "EC" } }, claims, pair.privatePem), "unsupported_header"],
      ["x5u injection", es256({ ...good, x5u: "https://evil.example/x" }, claims, pair.privatePem), "unsupported_header"],
      ["crit", es256({ ...good, crit: ["exp"] }, claims, pair.privatePem), "unsupported_header"],
      ["typ other", es256({ ...good, typ: "at+jwt" }, claims, pair.privatePem), "unsupported_header"],
      ["unknown kid", es256({ ...good, kid: "nope" }, claims, pair.privatePem), "unknown_key"],
      ["no kid", es256({ alg: "ES256", typ: "JWT" }, claims, pair.privatePem), "unknown_key"],
      ["other key, our kid", es256(good, claims, otherEcKeyPem()), "bad_signature"],
      ["payload tampered", `${h}.${b64json({ ...claims, roles: ["user", "admin", "owner"] })}.${s}`, "bad_signature"],
      ["truncated signature", `${h}.${p}.${s.slice(0, 40)}`, "bad_signature"],
      ["DER signature", es256(good, claims, pair.privatePem, { der: true }), "bad_signature"],
      ["signature not base64url", `${h}.${p}.${s.slice(0, -2)}+/`, "bad_signature"],
      ["expired", es256(good, { ...claims, exp: t - 11 }, pair.privatePem), "expired"],
      ["nbf in the future", es256(good, { ...claims, nbf: t + 60 }, pair.privatePem), "not_yet_valid"],
      ["iat far ahead", es256(good, { ...claims, iat: t + 3600, nbf: t }, pair.privatePem), "issued_in_future"],
      ["wrong iss", es256(good, { ...claims, iss: "evil" }, pair.privatePem), "wrong_issuer"],
      ["wrong aud", es256(good, { ...claims, aud: ["grafana"] }, pair.privatePem), "wrong_audience"],
      ["empty aud", es256(good, { ...claims, aud: [] }, pair.privatePem), "wrong_audience"],
      ["exp as string", es256(good, { ...claims, exp: String(claims.exp) }, pair.privatePem), "bad_claims"],
      ["no sub", es256(good, { ...claims, sub: "" }, pair.privatePem), "bad_claims"],
      ["roles not a list", es256(good, { ...claims, roles: "admin" }, pair.privatePem), "bad_claims"],
      ["8 kB token", `${h}.${"A".repeat(8192)}.${s}`, "malformed"],
      ["just over the limit", "a".repeat(MAX_TOKEN_LENGTH + 1), "malformed"],
    ];
    for (const [label, token, reason] of cases) {
      expect({ label, result: await verifier.verify(token, now) }).toEqual({ label, result: { ok: false, reason } });
    }
  });

  test("within the leeway, time claims are accepted", async () => {
    const { pair, keys, verifier, now, claims } = await setup();
    const t = Math.floor(now / 1000);
    const token = es256({ alg: "ES256", typ: "JWT", kid: keys.current.kid }, { ...claims, exp: t - 5, nbf: t + 5, iat: t + 5 }, pair.privatePem);
    expect((await verifier.verify(token, now)).ok).toBe(true);
  });

  test("a token signed by a previous key verifies while that key is listed, and not after", async () => {
    const old = await generateKeyPair();
    const oldRing = await importKeyRing(old.privatePem, []);
    const now = Date.now();
    const token = await signJwt(oldRing, sessionClaims(user, { ...options, ttl: 600, now }));
    const next = await generateKeyPair();
    const during = createVerifier(await importKeyRing(next.privatePem, [old.publicJwk]), options);
    expect((await during.verify(token, now)).ok).toBe(true);
    const after = createVerifier(await importKeyRing(next.privatePem, []), options);
    expect(await after.verify(token, now)).toEqual({ ok: false, reason: "unknown_key" });
  });
});
