/**
 * Issue 9, the local verifier: /verify answered next to the proxy with the signer's public
 * keys, check policy and a copy of its deny-list, fetched through a relay that counts what
 * reaches the signer. Signer down: known keys keep working, unknown kids are refused without
 * a storm; a rotation is picked up without a restart; a sign-out arrives within the poll.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type HomeAssistantDouble } from "../ha-double/index.js";
import { startCountingRelay, type CountingRelay } from "../support/counting-relay.js";
import { rawRequest, type RawAnswer } from "../support/raw-http.js";
import { RUNTIMES, startSigner, testSigningKey, type RunningSigner, type SignerRuntime } from "../support/signer.js";
import { es256, otherEcKeyPem } from "../support/tokens.js";
import { startVerifier, type VerifierUnderTest } from "../support/verifier.js";
import { generateKeyPair } from "../../worker/tokens/keys.js";

const BROWSER = { Accept: "text/html" };
const API = { Accept: "application/json" };
const POLL_MS = 200;

async function signIn(signerUrl: string, ha: HomeAssistantDouble, userId: string): Promise<string> {
  const response = await fetch(`${signerUrl}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(userId)}` } });
  expect(response.status).toBe(200);
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

function forwarded(host: string, path: string, headers: Record<string, string>): Record<string, string> {
  return { "X-Forwarded-Proto": "https", "X-Forwarded-Host": host, "X-Forwarded-Uri": path, "X-Forwarded-Method": "GET", ...headers };
}

/** Status, Location and identity headers: what a proxy acts on. */
async function answer(url: string, headers: Record<string, string>, query = ""): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/verify${query}`, { headers, redirect: "manual" });
  const body = response.status === 200 ? "" : await response.text();
  return {
    status: response.status,
    location: response.headers.get("location"),
    signIn: response.headers.get("x-sign-in-url"),
    user: response.headers.get("remote-user"),
    name: response.headers.get("remote-name"),
    groups: response.headers.get("remote-groups"),
    body,
  };
}

/** The signer, a counting relay in front of it, and a local verifier that asks the signer through the relay, ready. */
async function signerAndVerifier(runtime: SignerRuntime, env: Record<string, string>): Promise<{ signer: RunningSigner; relay: CountingRelay; verifier: VerifierUnderTest }> {
  const signer = await startSigner(runtime, env);
  const relay = await startCountingRelay(signer.url);
  const verifier = await startVerifier(relay.url, { REVOCATIONS_POLL: `${POLL_MS}ms`, UNKNOWN_KID_REFETCH: "1s" });
  await verifier.ready();
  return { signer, relay, verifier };
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(RUNTIMES)("local verifier in front of the signer in %s", (runtime) => {
  let ha: HomeAssistantDouble;
  let signer: RunningSigner;
  let relay: CountingRelay;
  let verifier: VerifierUnderTest;
  let env: Record<string, string>;
  let alice: string;
  let admin: string;

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    alice = ha.addUser({ name: "Alice Ünïcode" }).id;
    admin = ha.addUser({ name: "Ada", is_admin: true }).id;
    env = {
      HA_URL: ha.url,
      SIGNING_KEY: await testSigningKey(),
      COOKIE_SECURE: "false",
      COOKIE_DOMAIN: ".example.test",
      PUBLIC_URL: "https://auth.example.test",
      REDIRECT_ALLOWLIST: "nas.example.net",
      ACCESS_RULES: JSON.stringify({ "admin.example.test": { roles: ["admin"] }, "mine.example.test": { users: [admin] } }),
    };
    ({ signer, relay, verifier } = await signerAndVerifier(runtime, env));
  });
  afterAll(async () => {
    await verifier?.close();
    await relay?.close();
    await signer?.close();
    await ha?.close();
  });

  test("answers /verify exactly as the signer does, row for row", async () => {
    const aliceCookie = await signIn(signer.url, ha, alice);
    const adminCookie = await signIn(signer.url, ha, admin);
    const rows: Array<[string, Record<string, string>, string?]> = [
      ["signed in", forwarded("grafana.example.test", "/d/1", { ...BROWSER, Cookie: aliceCookie })],
      ["Bearer", forwarded("grafana.example.test", "/api", { ...API, Authorization: `Bearer ${adminCookie.split("=")[1]}` })],
      ["no session, browser", forwarded("grafana.example.test", "/d/1?x=a%2Fb", BROWSER)],
      ["no session, browser, nginx", forwarded("grafana.example.test", "/d/1", BROWSER), "?redirect=false"],
      ["no session, script", forwarded("grafana.example.test", "/api", API)],
      ["rd not allowed", forwarded("evil.example.com", "/", BROWSER)],
      ["rd in REDIRECT_ALLOWLIST", forwarded("nas.example.net", "/", BROWSER)],
      ["ACCESS_RULES role, browser", forwarded("admin.example.test", "/", { ...BROWSER, Cookie: aliceCookie })],
      ["ACCESS_RULES role, script", forwarded("admin.example.test", "/", { ...API, Cookie: aliceCookie })],
      ["ACCESS_RULES role, admin", forwarded("admin.example.test", "/", { ...API, Cookie: adminCookie })],
      ["ACCESS_RULES user id", forwarded("mine.example.test", "/", { ...API, Cookie: aliceCookie })],
      ["ACCESS_RULES user id, allowed", forwarded("MINE.example.test:443", "/", { ...API, Cookie: adminCookie })],
      ["two cookies", forwarded("grafana.example.test", "/", { ...API, Cookie: `${aliceCookie}; ${adminCookie}` })],
      ["garbage", forwarded("grafana.example.test", "/", { ...API, Cookie: "jwt_access_token=a.b.c" })],
    ];
    for (const [label, headers, query] of rows) {
      const fromSigner = await answer(signer.url, headers, query);
      expect(await answer(verifier.url, headers, query), label).toEqual(fromSigner);
    }
    // The rows cover every kind of answer, so equality above means something.
    const statuses = new Set(await Promise.all(rows.map(async ([, h, q]) => (await answer(verifier.url, h, q)).status)));
    expect([...statuses].sort()).toEqual([200, 302, 401, 403]);
    const redirect = await answer(verifier.url, rows[2]![1]);
    expect(redirect.location).toBe(`https://auth.example.test/login?rd=${encodeURIComponent("https://grafana.example.test/d/1?x=a%2Fb")}`);
  });

  test("reads headers sent on several lines, in any case, exactly as the signer does", async () => {
    const aliceCookie = await signIn(signer.url, ha, alice);
    const adminCookie = await signIn(signer.url, ha, admin);
    const adminJwt = adminCookie.slice(adminCookie.indexOf("=") + 1);
    const proxy: Array<[string, string]> = [["X-Forwarded-Proto", "https"], ["X-Forwarded-Uri", "/"], ["Accept", "application/json"]];
    const rows: Array<[string, Array<[string, string]>, number]> = [
      ["our cookie, then another Cookie line", [["X-Forwarded-Host", "grafana.example.test"], ["Cookie", aliceCookie], ["cookie", "theme=dark"]], 200],
      ["another Cookie line, then ours, odd case", [["x-forwarded-host", "grafana.example.test"], ["COOKIE", "theme=dark"], ["CoOkIe", ` ${adminCookie} `]], 200],
      ["two users' cookies on two lines", [["X-Forwarded-Host", "grafana.example.test"], ["Cookie", aliceCookie], ["Cookie", adminCookie]], 401],
      // Node's own headers object would keep only the first Authorization line and let this in.
      ["our Bearer, then a second Authorization line", [["X-Forwarded-Host", "grafana.example.test"], ["Authorization", `Bearer ${adminJwt}`], ["authorization", "Basic Zm9vOmJhcg=="]], 401],
      ["X-Forwarded-Host twice: the first decides ACCESS_RULES", [["X-Forwarded-Host", "mine.example.test"], ["X-Forwarded-Host", "grafana.example.test"], ["Cookie", aliceCookie]], 403],
      ["X-Forwarded-Host twice, the other order", [["X-Forwarded-Host", "grafana.example.test"], ["X-Forwarded-Host", "mine.example.test"], ["Cookie", aliceCookie]], 200],
    ];
    const seen = (a: RawAnswer) => ({ status: a.status, user: a.headers["remote-user"], name: a.headers["remote-name"], groups: a.headers["remote-groups"] });
    for (const [label, lines, status] of rows) {
      const fromVerifier = seen(await rawRequest(verifier.url, "/verify", [...proxy, ...lines]));
      const fromSigner = seen(await rawRequest(signer.url, "/verify", [...proxy, ...lines]));
      expect(fromVerifier.status, label).toBe(status);
      // workerd joins Cookie lines with ", " as the Fetch standard says; Node (and so the
      // verifier, and the Node signer) with "; ", as HTTP/2's cookie crumbs are joined. On
      // workerd such a request then presents no readable cookie and is refused, never let in.
      const cookieLines = lines.filter(([name]) => name.toLowerCase() === "cookie").length;
      if (runtime === "workerd" && cookieLines > 1) expect(fromSigner.status, label).toBe(401);
      else expect(fromVerifier, label).toEqual(fromSigner);
    }
  });

  test("lets a caching proxy that asks reuse an approval for PROXY_APPROVAL_CACHE (5 s by default: through the check's second + 4); the signer never does", async () => {
    const aliceCookie = await signIn(signer.url, ha, alice);
    const otherAliceCookie = await signIn(signer.url, ha, alice);
    const told = async (url: string, headers: Record<string, string>, query = "?redirect=false&approval_cache=keyed") => {
      const response = await fetch(`${url}/verify${query}`, { headers, redirect: "manual" });
      return [response.status, response.headers.get("x-accel-expires")];
    };
    const allowed = forwarded("grafana.example.test", "/", { ...API, Cookie: aliceCookie });
    // An absolute second (nginx would count a relative value from when the answer reaches it).
    const reusable = async () => {
      const from = Math.floor(Date.now() / 1000);
      const [status, until] = await told(verifier.url, allowed);
      const to = Math.floor(Date.now() / 1000);
      expect(status).toBe(200);
      expect([...new Set([from + 4, to + 4])].map((s) => `@${s}`)).toContain(until);
    };
    await reusable();
    await reusable(); // the remembered approval says the same
    expect(await told(signer.url, allowed)).toEqual([200, null]);
    // Only to a proxy that says its cache is keyed by the visitor's headers: an nginx that has
    // not (a hand-written config under a site-wide proxy_cache) would keep one approval for all.
    for (const query of ["", "?redirect=false", "?redirect=false&approval_cache=yes", "?approval_cache=KEYED", "?approval_cache"]) {
      expect(await told(verifier.url, allowed, query), query).toEqual([200, null]);
    }
    expect(await told(verifier.url, allowed, "?approval_cache=keyed")).toEqual([200, expect.stringMatching(/^@\d+$/)]);
    // Refusals, and an answer to two values under the cookie's name, are never to be reused.
    const refused: Array<[number, Record<string, string>]> = [
      [401, forwarded("grafana.example.test", "/", API)],
      [401, forwarded("grafana.example.test", "/", { ...BROWSER, Cookie: "jwt_access_token=a.b.c" })],
      [403, forwarded("mine.example.test", "/", { ...API, Cookie: aliceCookie })],
      [200, forwarded("grafana.example.test", "/", { ...API, Cookie: `${aliceCookie}; ${otherAliceCookie}` })],
    ];
    for (const [status, headers] of refused) expect(await told(verifier.url, headers)).toEqual([status, null]);
    const health = (await (await fetch(`${verifier.url}/healthz`)).json()) as Record<string, any>;
    expect(health.proxy_approval_cache_seconds).toBe(5);
  });

  test("only /verify and /healthz: everything else is 404 JSON, nothing of the signer's", async () => {
    for (const path of ["/session", "/login", "/logout", "/.well-known/jwks.json", "/revocations", "/", "/nope"]) {
      const response = await fetch(`${verifier.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({ error: "not_found" });
    }
    const health = (await (await fetch(`${verifier.url}/healthz`)).json()) as Record<string, any>;
    expect(health).toMatchObject({ status: "ok", signer_reachable: true, last_error: null, sign_in_url: "https://auth.example.test/login" });
    expect(health.keys.kids).toHaveLength(1);
    expect(health.keys.age_seconds).toBeGreaterThanOrEqual(0);
    expect(health.revocations.age_seconds).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(health)).not.toMatch(/PRIVATE|"d":/);
  });

  test("a signed-out cookie is refused within the poll interval", async () => {
    const cookie = await signIn(signer.url, ha, alice);
    const headers = forwarded("grafana.example.test", "/", { ...API, Cookie: cookie });
    expect((await answer(verifier.url, headers)).status).toBe(200);
    // Remembered (checking/remembered-approvals.ts) and answered from memory again: the
    // sign-out below must still refuse it on the first request after the copy learns of it.
    expect(verifier.runtime.current()?.approvals?.size).toBeGreaterThan(0);
    expect((await answer(verifier.url, headers)).status).toBe(200);
    const polls = relay.count("/revocations");
    const logout = await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: cookie } });
    expect(logout.status).toBe(200);
    // Within a few polls (the test machine is shared), and because of a poll, not a per-request ask.
    await until(async () => (await answer(verifier.url, headers)).status === 401, POLL_MS * 15);
    expect(relay.count("/revocations")).toBeGreaterThan(polls);
    expect(relay.count("/verify")).toBe(0);
    const refused = await answer(verifier.url, headers);
    expect(refused.body).toContain("revoked");
  });

  test("unknown kids: all 401, at most one JWKS fetch per refetch interval", async () => {
    const other = otherEcKeyPem();
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: alice, name: "A", roles: ["user"], iss: "homeassistant", aud: "homeassistant", iat: now, nbf: now, exp: now + 600 };
    const before = relay.count("/.well-known/jwks.json");
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () =>
        answer(verifier.url, forwarded("grafana.example.test", "/", { ...API, Cookie: `jwt_access_token=${es256({ alg: "ES256", typ: "JWT", kid: randomUUID() }, { ...claims, jti: randomUUID() }, other)}` })),
      ),
    );
    const elapsed = Date.now() - started;
    expect(statuses.map((s) => s.status).filter((s) => s !== 401)).toEqual([]);
    const fetched = relay.count("/.well-known/jwks.json") - before;
    expect(fetched).toBeGreaterThanOrEqual(1);
    expect(fetched).toBeLessThanOrEqual(1 + Math.floor(elapsed / 1000));
  });
});

describe("local verifier when the signer is down or rotates its key (signer on Node)", () => {
  let ha: HomeAssistantDouble;
  let signer: RunningSigner;
  let relay: CountingRelay;
  let verifier: VerifierUnderTest;
  let env: Record<string, string>;
  let alice: string;
  const extra: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    alice = ha.addUser({ name: "Alice" }).id;
    env = { HA_URL: ha.url, SIGNING_KEY: await testSigningKey(), COOKIE_SECURE: "false", PUBLIC_URL: "https://auth.example.test" };
    ({ signer, relay, verifier } = await signerAndVerifier("node", env));
  });
  afterAll(async () => {
    await verifier?.close();
    await relay?.close();
    for (const e of extra) await e.close();
    await signer?.close();
    await ha?.close();
  });

  const api = (cookie: string) => forwarded("grafana.example.test", "/", { ...API, Cookie: cookie });

  test("signer stopped: known keys still pass, unknown kid refused, no 5xx storm", async () => {
    const cookie = await signIn(signer.url, ha, alice);
    expect((await answer(verifier.url, api(cookie))).status).toBe(200);
    await relay.cutOff();
    try {
      const other = otherEcKeyPem();
      const now = Math.floor(Date.now() / 1000);
      const unknown = (i: number) =>
        `jwt_access_token=${es256({ alg: "ES256", kid: `k${i}` }, { sub: alice, name: "A", roles: [], iss: "homeassistant", aud: "homeassistant", iat: now, nbf: now, exp: now + 60, jti: `j${i}` }, other)}`;
      const fetchesBefore = verifier.runtime.health(Date.now()).keys.fetches;
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => answer(verifier.url, api(i % 2 ? cookie : unknown(i)))));
      const elapsed = Date.now() - started;
      expect(results.filter((r, i) => r.status !== (i % 2 ? 200 : 401))).toEqual([]);
      const fetches = verifier.runtime.health(Date.now()).keys.fetches - fetchesBefore;
      expect(fetches).toBeLessThanOrEqual(1 + Math.floor(elapsed / 1000) + 1); // + a periodic retry at most
      // Long enough for several failed polls: still serving, and saying why it is degraded.
      await new Promise((r) => setTimeout(r, POLL_MS * 3));
      expect((await answer(verifier.url, api(cookie))).status).toBe(200);
      const health = (await (await fetch(`${verifier.url}/healthz`)).json()) as Record<string, any>;
      expect(health).toMatchObject({ status: "degraded", signer_reachable: false });
      expect(health.last_error).toMatch(/revocations|jwks|jwt-cookie\.json/);
      expect(health.keys.kids).toHaveLength(1);
    } finally {
      await relay.resume();
    }
    await until(async () => verifier.runtime.health(Date.now()).status === "ok", 5_000).catch((e) => {
      throw new Error(`${e}: ${JSON.stringify(verifier.runtime.health(Date.now()))}`);
    });
  });

  test("a key rotation at the signer is picked up without a restart", async () => {
    const oldCookie = await signIn(signer.url, ha, alice);
    const oldKid = verifier.runtime.health(Date.now()).keys.kids[0]!;
    const next = await generateKeyPair();
    const oldPublic = await fetch(`${signer.url}/.well-known/jwks.json`).then((r) => r.json());
    const rotated = await startSigner("node", { ...env, SIGNING_KEY: next.privatePem, PREVIOUS_PUBLIC_KEYS: JSON.stringify(oldPublic) });
    extra.push(rotated);
    relay.retarget(rotated.url);
    const newCookie = await signIn(rotated.url, ha, alice);
    // The previous test's unknown kids may have used this interval's refetch (UNKNOWN_KID_REFETCH=1s,
    // at most one per interval by design): the next interval allows one again.
    await new Promise((r) => setTimeout(r, 1_100));
    const jwksBefore = relay.count("/.well-known/jwks.json");
    const first = await answer(verifier.url, api(newCookie));
    expect(first.status).toBe(200); // the unknown kid made it fetch the JWKS once, then pass
    expect(relay.count("/.well-known/jwks.json")).toBe(jwksBefore + 1);
    expect(verifier.runtime.health(Date.now()).keys.kids).toEqual([next.kid, oldKid]);
    expect((await answer(verifier.url, api(oldCookie))).status).toBe(200); // previous key still accepted
  });
});

test("before it has the signer's keys, policy and deny-list the verifier answers 503, never a guess", async () => {
  const relay = await startCountingRelay("http://127.0.0.1:9");
  await relay.cutOff();
  const verifier = await startVerifier(relay.url, { REVOCATIONS_POLL: "100ms" });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const response = await fetch(`${verifier.url}/verify`, { headers: { Accept: "text/html", Cookie: "jwt_access_token=a.b.c" }, redirect: "manual" });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "verifier_not_ready" });
    const health = await fetch(`${verifier.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "starting", signer_reachable: false });
  } finally {
    await verifier.close();
    await relay.close();
  }
});
