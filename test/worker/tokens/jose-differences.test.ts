/**
 * Where jose, left to itself, would decide differently from the signer's rules, and what
 * the verifier does about each. Most of these tokens carry a VALID signature by the
 * signer's own key, so jose alone would accept them: what refuses them is the thin code
 * around jose (tokens/verify.ts, tokens/canonical-base64url.ts).
 */
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { describe, expect, test } from "vitest";
import { generateKeyPair, importKeyRing } from "../../../worker/tokens/keys.js";
import { sessionClaims, signJwt } from "../../../worker/tokens/sign.js";
import { createVerifier, MAX_TOKEN_LENGTH, VERIFY_LEEWAY_SECONDS, type VerifyResult } from "../../../worker/tokens/verify.js";
import { b64url } from "../../support/tokens.js";

const user = { id: "be4b440c8b354852a65ab9d42e9d77c4", name: "testuser", is_admin: false, is_owner: false };
const options = { issuer: "homeassistant", audience: ["homeassistant"], cacheMaxEntries: 100 };

/** Signs exactly `header.payload` as given (any spelling) with node:crypto, not our code. */
function signInput(input: string, privatePem: string): string {
  const signature = nodeSign("sha256", Buffer.from(input), { key: createPrivateKey(privatePem), dsaEncoding: "ieee-p1363" });
  return `${input}.${b64url(signature)}`;
}

/** Header and payload given as raw JSON text, so that duplicate members survive. */
function signText(headerJson: string, payloadJson: string, privatePem: string, encode = (text: string) => b64url(text)): string {
  return signInput(`${encode(headerJson)}.${encode(payloadJson)}`, privatePem);
}

function signBytes(headerJson: string, payload: Buffer, privatePem: string): string {
  return signInput(`${b64url(headerJson)}.${b64url(payload)}`, privatePem);
}

async function setup() {
  const pair = await generateKeyPair();
  const keys = await importKeyRing(pair.privatePem, []);
  const now = Date.now();
  const t = Math.floor(now / 1000);
  const claims = sessionClaims(user, { ...options, ttl: 1800, now });
  const jwt = await signJwt(keys, claims);
  const header = (extra: Record<string, unknown> = {}) => ({ alg: "ES256", typ: "JWT", kid: keys.current.kid, ...extra });
  /** Signed with the signer's own key: only our checks can refuse it. */
  const ours = (h: object, p: object) => signText(JSON.stringify(h), JSON.stringify(p), pair.privatePem);
  const verify = (token: string, at = now): Promise<VerifyResult> => createVerifier(keys, options).verify(token, at);
  return { pair, keys, now, t, claims, jwt, header, ours, verify };
}

async function expectReasons(verify: (token: string) => Promise<VerifyResult>, cases: Array<[string, string, string]>) {
  for (const [label, token, reason] of cases) {
    const result = await verify(token);
    expect({ label, result: result.ok ? "ok" : result.reason }).toEqual({ label, result: reason });
  }
}

describe("header: jose accepts any extra member, any typ, and reads crit/b64; we accept only what we issue", () => {
  test("members other than alg, typ, kid are refused even under a valid signature", async () => {
    const { header, claims, ours, verify } = await setup();
    const extras: Array<[string, Record<string, unknown>]> = [
      ["jku", { jku: "https://evil.example/jwks.json" }],
      ["jwk", { jwk: { kty: "EC", crv: "P-256", x: "AA", y: "AA" } }],
      ["x5u", { x5u: "https://evil.example/cert.pem" }],
      ["x5c", { x5c: ["MIIB"] }],
      ["x5t", { x5t: "abc" }],
      ["cty", { cty: "JWT" }],
      ["zip", { zip: "DEF" }],
      ["b64 without crit", { b64: true }],
      ["crit b64 with b64 false", { crit: ["b64"], b64: false }],
      ["crit exp", { crit: ["exp"] }],
      ["empty crit", { crit: [] }],
      ["__proto__ member", JSON.parse('{"__proto__":{"alg":"none"}}') as Record<string, unknown>],
      ["anything else", { foo: 1 }],
    ];
    await expectReasons(
      verify,
      extras.map(([label, extra]) => [label, ours(header(extra), claims), "unsupported_header"]),
    );
  });

  test("typ is JWT or absent; jose would take any value", async () => {
    const { header, claims, ours, verify, keys } = await setup();
    const refused = ["jwt", "JWS", "application/jwt", "at+jwt", "", null, 1, ["JWT"]];
    await expectReasons(
      verify,
      refused.map((typ) => [`typ ${JSON.stringify(typ)}`, ours(header({ typ }), claims), "unsupported_header"]),
    );
    expect((await verify(ours({ alg: "ES256", kid: keys.current.kid }, claims))).ok).toBe(true);
  });

  test("alg is exactly ES256: no case variants, no padding, not absent", async () => {
    const { header, claims, ours, verify, keys } = await setup();
    await expectReasons(verify, [
      ["es256", ours(header({ alg: "es256" }), claims), "unsupported_header"],
      ["Es256", ours(header({ alg: "Es256" }), claims), "unsupported_header"],
      ["ES256 with a space", ours(header({ alg: "ES256 " }), claims), "unsupported_header"],
      ["ES384", ours(header({ alg: "ES384" }), claims), "unsupported_header"],
      ["no alg", ours({ typ: "JWT", kid: keys.current.kid }, claims), "unsupported_header"],
    ]);
  });

  test("no kid: jose's key set would fall back to its only key; we refuse", async () => {
    const { claims, ours, verify } = await setup();
    await expectReasons(verify, [["no kid, our key", ours({ alg: "ES256", typ: "JWT" }, claims), "unknown_key"]]);
  });

  test("duplicate members: JSON.parse keeps the last (RFC 7515 §4), for our checks and jose's alike", async () => {
    const { keys, claims, pair, verify } = await setup();
    const kid = keys.current.kid;
    const payload = JSON.stringify(claims);
    // The last alg is what both read: ES256 passes, none does not; neither reads a different value.
    const lastEs256 = signText(`{"alg":"none","alg":"ES256","typ":"JWT","kid":"${kid}"}`, payload, pair.privatePem);
    const lastNone = signText(`{"alg":"ES256","alg":"none","typ":"JWT","kid":"${kid}"}`, payload, pair.privatePem);
    expect(await verify(lastEs256)).toMatchObject({ ok: true });
    expect(await verify(lastNone)).toEqual({ ok: false, reason: "unsupported_header" });
    const header = JSON.stringify({ alg: "ES256", typ: "JWT", kid });
    const twoSubs = signText(header, `{"sub":"someone-else",${payload.slice(1)}`.replace(/}$/, ',"sub":"last"}'), pair.privatePem);
    expect(await verify(twoSubs)).toMatchObject({ ok: true, claims: { sub: "last" } });
  });
});

describe("encoding: jose decodes leniently (atob); one token has exactly one spelling", () => {
  test("a genuine signature respelled with the same bytes is refused, and the genuine one still passes", async () => {
    const { jwt, verify } = await setup();
    const [h, p, s] = jwt.split(".") as [string, string, string];
    // 64 bytes = 86 characters with 4 unused bits; setting one changes the text, not the bytes.
    const last = s.at(-1)!;
    const respelled = `${s.slice(0, -1)}${"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(last) + 1]}`;
    expect(Buffer.from(respelled, "base64url")).toEqual(Buffer.from(s, "base64url"));
    const standard = Buffer.from(s, "base64url").toString("base64");
    await expectReasons(verify, [
      ["signature, non-zero trailing bits", `${h}.${p}.${respelled}`, "bad_signature"],
      ["signature with == padding", `${h}.${p}.${s}==`, "bad_signature"],
      ["signature in the standard alphabet, padded", `${h}.${p}.${standard}`, "bad_signature"],
      ["signature with a line break", `${h}.${p}.${s.slice(0, 40)}\n${s.slice(40)}`, "bad_signature"],
      ["signature with a space", `${h}.${p}.${s.slice(0, 40)} ${s.slice(40)}`, "bad_signature"],
      ["signature with trailing bytes", `${h}.${p}.${b64url(Buffer.concat([Buffer.from(s, "base64url"), Buffer.from([0])]))}`, "bad_signature"],
      ["signature one byte short", `${h}.${p}.${b64url(Buffer.from(s, "base64url").subarray(0, 63))}`, "bad_signature"],
      ["empty signature", `${h}.${p}.`, "bad_signature"],
      ["header with a space", `${h.slice(0, 5)} ${h.slice(5)}.${p}.${s}`, "malformed"],
      ["header padded", `${h}${"=".repeat((4 - (h.length % 4)) % 4)}=.${p}.${s}`, "malformed"],
    ]);
    expect((await verify(jwt)).ok).toBe(true);
  });

  test("a padded or space-separated payload is refused even when our key signed exactly that text", async () => {
    const { header, claims, pair, verify } = await setup();
    const padded = (text: string) => Buffer.from(text).toString("base64url").padEnd(Math.ceil(Buffer.from(text).toString("base64url").length / 4) * 4, "=");
    const payloadJson = JSON.stringify(claims);
    // Pick a payload length that needs padding.
    const needsPadding = Buffer.byteLength(payloadJson) % 3 === 0 ? JSON.stringify({ ...claims, name: `${claims.name}x` }) : payloadJson;
    const token = signText(JSON.stringify(header()), needsPadding, pair.privatePem, (text) => (text === needsPadding ? padded(text) : b64url(text)));
    expect(token.split(".")[1]).toMatch(/=$/);
    // We never sign such a payload, so no signature of ours covers it: refused before ECDSA.
    await expectReasons(verify, [["padded payload, our key", token, "bad_signature"]]);
  });

  test("JWE-shaped (five parts) and oversize tokens are malformed; the length limit is exact", async () => {
    const { jwt, verify } = await setup();
    const [h, p, s] = jwt.split(".") as [string, string, string];
    await expectReasons(verify, [
      ["five parts", `${h}.${p}.${s}.a.b`, "malformed"],
      ["one over the limit", `${h}.${p}.${s}${"A".repeat(MAX_TOKEN_LENGTH + 1 - jwt.length)}`, "malformed"],
      // Exactly at the limit it is no longer "malformed" for its size: the signature decides.
      ["exactly the limit", `${h}.${p}${"A".repeat(MAX_TOKEN_LENGTH - jwt.length)}.${s}`, "bad_signature"],
    ]);
  });
});

describe("claims: jose checks presence, iss, aud and that times are numbers; the rest is ours", () => {
  test("shapes jose would pass are refused as bad_claims (before iss or aud)", async () => {
    const { header, claims, ours, verify } = await setup();
    const { nbf: _nbf, iat: _iat, jti: _jti, ...withoutTimes } = claims;
    await expectReasons(verify, [
      ["no nbf", ours(header(), { ...withoutTimes, iat: claims.iat, jti: claims.jti }), "bad_claims"],
      ["no iat", ours(header(), { ...withoutTimes, nbf: claims.nbf, jti: claims.jti }), "bad_claims"],
      ["no jti", ours(header(), { ...withoutTimes, nbf: claims.nbf, iat: claims.iat }), "bad_claims"],
      ["exp as string", ours(header(), { ...claims, exp: String(claims.exp) }), "bad_claims"],
      ["nbf as string", ours(header(), { ...claims, nbf: String(claims.nbf) }), "bad_claims"],
      ["jti a number", ours(header(), { ...claims, jti: 7 }), "bad_claims"],
      ["name missing", ours(header(), { ...claims, name: undefined }), "bad_claims"],
      ["name a number", ours(header(), { ...claims, name: 1 }), "bad_claims"],
      ["roles with a number", ours(header(), { ...claims, roles: ["user", 1] }), "bad_claims"],
      ["sub empty", ours(header(), { ...claims, sub: "" }), "bad_claims"],
      ["sub a number", ours(header(), { ...claims, sub: 1 }), "bad_claims"],
      // jose's aud check only looks for one accepted member; every member must be a string.
      ["aud with a number beside ours", ours(header(), { ...claims, aud: ["homeassistant", 1] }), "bad_claims"],
      ["aud an object", ours(header(), { ...claims, aud: { homeassistant: true } }), "bad_claims"],
      // jose would call this a wrong issuer; it is the wrong shape first.
      ["iss a number", ours(header(), { ...claims, iss: 1 }), "bad_claims"],
    ]);
  });

  test("a signed payload that is not a JSON object is bad_claims", async () => {
    const { header, pair, verify } = await setup();
    const h = JSON.stringify(header());
    await expectReasons(verify, [
      ["array", signText(h, "[1,2]", pair.privatePem), "bad_claims"],
      ["number", signText(h, "1", pair.privatePem), "bad_claims"],
      ["not JSON", signText(h, "{nope", pair.privatePem), "bad_claims"],
      ["not UTF-8", signBytes(h, Buffer.from([0x7b, 0xff, 0x7d]), pair.privatePem), "bad_claims"],
    ]);
  });

  test("aud as a single string is accepted, as before", async () => {
    const { header, claims, ours, verify } = await setup();
    expect(await verify(ours(header(), { ...claims, aud: "homeassistant" }))).toMatchObject({ ok: true });
  });
});

describe("times: jose refuses exp <= now - tolerance and ignores iat; our rule (shared with HAProxy's config) decides", () => {
  test("the boundaries stay where they were: exp + leeway is still valid, one second later not", async () => {
    const { header, claims, ours, verify, now, t } = await setup();
    const L = VERIFY_LEEWAY_SECONDS;
    const at = t * 1000 + (now % 1000);
    const check = (changes: object) => verify(ours(header(), { ...claims, ...changes }), at);
    expect(await check({ exp: t - L })).toMatchObject({ ok: true });
    expect(await check({ exp: t - L - 1 })).toEqual({ ok: false, reason: "expired" });
    expect(await check({ exp: t - L - 0.5 })).toEqual({ ok: false, reason: "expired" });
    expect(await check({ nbf: t + L })).toMatchObject({ ok: true });
    expect(await check({ nbf: t + L + 1 })).toEqual({ ok: false, reason: "not_yet_valid" });
    expect(await check({ iat: t + L })).toMatchObject({ ok: true });
    // jose does not look at iat at all without maxTokenAge.
    expect(await check({ iat: t + L + 1 })).toEqual({ ok: false, reason: "issued_in_future" });
  });

  test("several problems at once: reported in the order /verify always used (shape, exp, nbf, iat, iss, aud)", async () => {
    const { header, claims, ours, verify, t } = await setup();
    const expired = { exp: t - 3600, iat: t - 7200, nbf: t - 7200 };
    await expectReasons(verify, [
      // jose checks iss and aud before times and nbf before exp; the reason stays ours.
      ["expired and wrong iss", ours(header(), { ...claims, ...expired, iss: "evil" }), "expired"],
      ["expired and wrong aud", ours(header(), { ...claims, ...expired, aud: ["grafana"] }), "expired"],
      ["expired and nbf ahead", ours(header(), { ...claims, ...expired, nbf: t + 3600 }), "expired"],
      ["nbf ahead and wrong iss", ours(header(), { ...claims, nbf: t + 3600 }), "not_yet_valid"],
      ["iat ahead and wrong aud", ours(header(), { ...claims, iat: t + 3600, aud: ["grafana"] }), "issued_in_future"],
      ["wrong iss and wrong aud", ours(header(), { ...claims, iss: "evil", aud: ["grafana"] }), "wrong_issuer"],
      ["bad shape and expired", ours(header(), { ...claims, ...expired, roles: "admin" }), "bad_claims"],
    ]);
  });
});

describe("keys: the local JWK set never holds two keys for one kid", () => {
  test("a previous key pasted with the current key's kid gets its own thumbprint; the pasted kid is ignored", async () => {
    const current = await generateKeyPair();
    const previous = await generateKeyPair();
    const ring = await importKeyRing(current.privatePem, [{ ...previous.publicJwk, kid: current.kid } as JsonWebKey, current.publicJwk]);
    expect(ring.accepted.map((e) => e.kid)).toEqual([current.kid, previous.kid]);
    const verifier = createVerifier(ring, options);
    const now = Date.now();
    const claims = sessionClaims(user, { ...options, ttl: 600, now });
    const headerFor = (kid: string) => JSON.stringify({ alg: "ES256", typ: "JWT", kid });
    // Signed by the previous key under the current key's kid: checked against the current key.
    expect(await verifier.verify(signText(headerFor(current.kid), JSON.stringify(claims), previous.privatePem), now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verifier.verify(signText(headerFor(previous.kid), JSON.stringify(claims), previous.privatePem), now)).toMatchObject({ ok: true });
    expect(await verifier.verify(await signJwt(ring, claims), now)).toMatchObject({ ok: true });
  });
});
