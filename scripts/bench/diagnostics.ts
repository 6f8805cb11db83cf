/**
 * Small cost measurements that explain the ratios: what one WebCrypto call costs on Node
 * compared with the synchronous node:crypto equivalent (the thread-pool round trip), and
 * what jose's base64url/JSON work around a JWT costs compared with Buffer's codec. CPU time of
 * this process per operation, slices interleaved, so other processes do not skew them.
 */
import { createHash, createPrivateKey, sign as nodeSign } from "node:crypto";
import { base64url, decodeJwt, decodeProtectedHeader } from "jose";
import { fakeHaToken } from "../../test/support/tokens.js";
import { createApp } from "../../worker/app.js";
import { importKeyRing } from "../../worker/tokens/keys.js";
import { sessionClaims, signJwt } from "../../worker/tokens/sign.js";
import { withBareRoute } from "./bare-app.js";

export const APP_BARE = "app.fetch(GET /bare), in process, no network";
export const APP_VERIFY = "app.fetch(GET /verify) with a valid cookie, in process";
export const APP_SESSION = "app.fetch(POST /session), warm, in process";

export interface Diagnostic {
  what: string;
  microseconds: number;
}

export async function measureDiagnostics(signingKeyPem: string, totalMs: number): Promise<Diagnostic[]> {
  const keys = await importKeyRing(signingKeyPem, []);
  const user = { id: "0123456789abcdef0123456789abcdef", name: "Bench User", is_admin: true, is_owner: false };
  const claims = sessionClaims(user, { issuer: "homeassistant", audience: ["homeassistant"], ttl: 1800, now: Date.now() });
  const jwt = await signJwt(keys, claims);
  const [header, payload, signature] = jwt.split(".") as [string, string, string];
  const input = new TextEncoder().encode(`${header}.${payload}`);
  // About the size of a Home Assistant access token.
  const haToken = new TextEncoder().encode("x".repeat(183));
  const nodeKey = createPrivateKey(signingKeyPem);
  const ES256 = { name: "ECDSA", hash: "SHA-256" } as const;

  // The app itself, without any network: RuntimeOptions.fetchUser stands in for Home Assistant.
  const app = withBareRoute(createApp({ clientAddress: () => "127.0.0.1", fetchUser: async () => user }));
  const env = { HA_URL: "http://127.0.0.1:9", SIGNING_KEY: signingKeyPem, RATE_LIMIT: "1000000", LOCAL_ONLY_CHECK: "off", HA_LOGIN_ATTEMPTS_THRESHOLD: "off" };
  const bearer = { Authorization: `Bearer ${fakeHaToken()}` };
  const signedIn = await app.fetch(new Request("http://signer.test/session", { method: "POST", headers: bearer }), env);
  const cookie = signedIn.headers.get("set-cookie")?.split(";")[0];
  if (signedIn.status !== 200 || !cookie) throw new Error(`in-process POST /session answered ${signedIn.status}`);
  const call = async (path: string, init: RequestInit, expect: number) => {
    const response = await app.fetch(new Request(`http://signer.test${path}`, init), env);
    await response.arrayBuffer();
    if (response.status !== expect) throw new Error(`in-process ${path} answered ${response.status}`);
  };

  const cases: Array<[string, () => unknown]> = [
    [APP_BARE, () => call("/bare", {}, 200)],
    [APP_VERIFY, () => call("/verify", { headers: { Cookie: cookie } }, 200)],
    [APP_SESSION, () => call("/session", { method: "POST", headers: bearer }, 200)],
    ["crypto.subtle.digest SHA-256 (HA token, as /session's cache key)", () => crypto.subtle.digest("SHA-256", haToken)],
    ["node:crypto createHash SHA-256, synchronous", () => createHash("sha256").update(haToken).digest()],
    ["crypto.subtle.sign ES256 (a session JWT)", () => crypto.subtle.sign(ES256, keys.signingKey, input)],
    ["node:crypto sign ES256 (ieee-p1363), synchronous", () => nodeSign("sha256", input, { key: nodeKey, dsaEncoding: "ieee-p1363" })],
    [
      "jose's decode of a JWT: decodeProtectedHeader + decodeJwt + base64url.decode",
      () => [decodeProtectedHeader(jwt), decodeJwt(jwt), base64url.decode(signature)],
    ],
    [
      "the same with Buffer base64url + JSON.parse",
      () => [
        JSON.parse(Buffer.from(header, "base64url").toString()),
        JSON.parse(Buffer.from(payload, "base64url").toString()),
        Buffer.from(signature, "base64url"),
      ],
    ],
    [
      "jose's encode of a JWT: 3 × base64url.encode (as SignJWT does)",
      () => [
        base64url.encode(JSON.stringify({ alg: "ES256", typ: "JWT", kid: keys.current.kid })),
        base64url.encode(JSON.stringify(claims)),
        base64url.encode(new Uint8Array(64)),
      ],
    ],
    [
      "the same with Buffer base64url",
      () => [
        Buffer.from(JSON.stringify({ alg: "ES256", typ: "JWT", kid: keys.current.kid })).toString("base64url"),
        Buffer.from(JSON.stringify(claims)).toString("base64url"),
        Buffer.from(new Uint8Array(64)).toString("base64url"),
      ],
    ],
  ];
  // Warm-up, so that every case is measured JIT-compiled.
  for (const [, op] of cases) {
    const t0 = performance.now();
    for (let n = 0; n < 20_000 && performance.now() - t0 < 150; n++) await op();
  }
  const totals = cases.map(() => ({ ops: 0, cpuUs: 0 }));
  const sliceMs = 40;
  const rounds = Math.max(1, Math.floor(totalMs / (sliceMs * cases.length)));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const op = cases[i]![1];
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < sliceMs && n < 100_000) {
        await op();
        n++;
      }
      const cpu = process.cpuUsage(cpu0);
      totals[i]!.ops += n;
      totals[i]!.cpuUs += cpu.user + cpu.system;
    }
  }
  return cases.map(([what], i) => ({ what, microseconds: totals[i]!.cpuUs / totals[i]!.ops }));
}
