/**
 * Issue 6, server side: every JWT has a jti; signing out puts it on the deny-list that
 * /verify consults, so a copied cookie stops working at once (Node: memory; workerd: the
 * REVOKED_SESSIONS KV namespace, or memory when it is not bound). A user switch in one
 * browser revokes the previous user's cookie.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../ha-double/index.js";
import { startSigner, testSigningKey, type RunningSigner, type SignerRuntime } from "../support/signer.js";

const variants: Array<[string, SignerRuntime, boolean]> = [
  ["node (memory)", "node", false],
  ["workerd with KV", "workerd", true],
  ["workerd without KV (memory fallback)", "workerd", false],
];

describe.each(variants)("revocation on %s", (_label, runtime, kv) => {
  let ha: HomeAssistantDouble;
  let signer: RunningSigner;
  let alice: DoubleUser;
  let bob: DoubleUser;

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    alice = ha.addUser({ name: "Alice" });
    bob = ha.addUser({ name: "Bob" });
    signer = await startSigner(runtime, { HA_URL: ha.url, SIGNING_KEY: await testSigningKey(), COOKIE_SECURE: "false" }, { kv });
  });
  afterAll(async () => {
    await signer.close();
    await ha.close();
  });

  async function signIn(user: DoubleUser, cookie?: string): Promise<string> {
    const response = await fetch(`${signer.url}/session`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ha.accessToken(user.id)}`, ...(cookie ? { Cookie: cookie } : {}) },
    });
    expect(response.status).toBe(200);
    return response.headers.get("set-cookie")!.split(";")[0]!;
  }
  const verify = (cookie: string) => fetch(`${signer.url}/verify`, { headers: { Cookie: cookie } });

  test("/healthz says where the deny-list lives", async () => {
    const health = (await (await fetch(`${signer.url}/healthz`)).json()) as { revocation: string };
    expect(health.revocation).toMatch(kv ? /^kv$/ : /^memory/);
  });

  test("a cookie captured before POST /logout is refused by /verify afterwards", async () => {
    const cookie = await signIn(alice);
    expect((await verify(cookie)).status).toBe(200);
    expect((await verify(cookie)).status).toBe(200); // the second one answered from remembered approvals
    const logout = await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: cookie } });
    expect(logout.status).toBe(200);
    const after = await verify(cookie);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { message: string }).message).toContain("revoked");
    const status = (await (await fetch(`${signer.url}/session`, { headers: { Cookie: cookie } })).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ present: true, valid: false, reason: "revoked" });
  });

  test("GET /logout revokes too; another session of the same user is untouched", async () => {
    const first = await signIn(alice);
    const second = await signIn(alice);
    // A sign-out link on a protected service (same site); a cross-site one only gets a confirmation page.
    const logout = await fetch(`${signer.url}/logout`, { headers: { Cookie: first, "Sec-Fetch-Site": "same-site" }, redirect: "manual" });
    expect(logout.status).toBe(200);
    expect((await verify(first)).status).toBe(401);
    expect((await verify(second)).status).toBe(200);
  });

  test("user switch: Bob signing in where Alice's cookie is revokes Alice's cookie at once", async () => {
    const aliceCookie = await signIn(alice);
    const bobCookie = await signIn(bob, aliceCookie);
    const seen = await verify(bobCookie);
    expect(seen.headers.get("remote-name")).toBe("Bob");
    expect((await verify(aliceCookie)).status).toBe(401);
  });

  test("renewing the same user's session does not revoke the cookie it replaces (other tabs keep working)", async () => {
    const before = await signIn(alice);
    await signIn(alice, before);
    expect((await verify(before)).status).toBe(200);
  });

  test("the same HA token moments later gets the same JWT back, but never a revoked one", async () => {
    const token = ha.accessToken(alice.id);
    const ask = async () => {
      const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
      return response.headers.get("set-cookie")!.split(";")[0]!;
    };
    const first = await ask();
    expect(await ask()).toBe(first);
    await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: first } });
    const after = await ask();
    expect(after).not.toBe(first);
    expect((await verify(after)).status).toBe(200);
    expect((await verify(first)).status).toBe(401);
  });

  test("GET /revocations: the feed local verifiers poll gives jti and exp only; a bad cursor is a 400", async () => {
    const cookie = await signIn(alice);
    const jti = JSON.parse(Buffer.from(cookie.split("=")[1]!.split(".")[1]!, "base64url").toString()).jti as string;
    const before = (await (await fetch(`${signer.url}/revocations`)).json()) as { cursor: string };
    await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: cookie } });
    const page = (await (await fetch(`${signer.url}/revocations?since=${encodeURIComponent(before.cursor)}`)).json()) as {
      revoked: Array<Record<string, unknown>>;
      more: boolean;
      server_time: number;
    };
    const entry = page.revoked.find((e) => e.jti === jti);
    expect(entry).toBeDefined();
    expect(Object.keys(entry!).sort()).toEqual(["exp", "jti"]);
    expect(page.more).toBe(false);
    expect(Math.abs(page.server_time - Date.now())).toBeLessThan(60_000);
    const bad = await fetch(`${signer.url}/revocations?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "bad_cursor" });
  });

  test("GET /.well-known/jwt-cookie.json: the check policy, no secret", async () => {
    const response = await fetch(`${signer.url}/.well-known/jwt-cookie.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as Record<string, unknown>;
    expect(document).toMatchObject({ issuer: "homeassistant", audience: ["homeassistant"], cookie: { name: "jwt_access_token", domain: null }, public_url: null, ha_url: ha.url, access_rules: {} });
    expect(JSON.stringify(document)).not.toMatch(/PRIVATE KEY|"d":|SIGNING/);
  });

  test("a bad cookie on /logout revokes nothing and still clears", async () => {
    const response = await fetch(`${signer.url}/logout`, { method: "POST", headers: { Cookie: "jwt_access_token=a.b.c" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toMatch(/Max-Age=0/);
  });
});

test("the revocation survives a new workerd isolate when KV is bound (shared storage), not in memory", async () => {
  // Two Miniflare instances do not share KV, so this is asserted at the unit level instead:
  const { kvRevocationList } = await import("../../worker/tokens/revocation-list.js");
  const store = new Map<string, { value: string; ttl?: number }>();
  const kv = {
    get: async (k: string) => store.get(k)?.value ?? null,
    put: async (k: string, value: string, o?: { expirationTtl?: number }) => void store.set(k, { value, ttl: o?.expirationTtl }),
  };
  const now = Date.now();
  await kvRevocationList(kv, 10).revoke("J1", Math.floor(now / 1000) + 5, now);
  expect(store.get("revoked:J1")).toEqual({ value: "1", ttl: 60 }); // KV's minimum TTL
  expect(await kvRevocationList(kv, 10).isRevoked("J1", now)).toBe(true); // a fresh isolate sees it
  expect(await kvRevocationList(kv, 10).isRevoked("J2", now)).toBe(false);
});

/** An in-memory KV namespace (get/put), and how many gets it answered. */
function memoryKv() {
  const store = new Map<string, string>();
  const counted = { gets: 0 };
  const kv = {
    get: async (k: string) => (counted.gets++, store.get(k) ?? null),
    put: async (k: string, value: string) => void store.set(k, value),
  };
  return { store, kv, counted };
}

test("KV feed: one KV get per poll (no list()), and a revocation lost to a concurrent index write comes back", async () => {
  const { kvRevocationList, REVOKED_INDEX_KEY } = await import("../../worker/tokens/revocation-list.js");
  const { store, kv, counted } = memoryKv();
  const now = Date.now();
  const exp = Math.floor(now / 1000) + 600;
  const isolateA = kvRevocationList(kv, 100);
  const isolateB = kvRevocationList(kv, 100);
  await isolateA.revoke("A1", exp, now);
  // B read the index before A wrote it, and writes it back without A1 (no compare-and-swap in KV).
  await isolateB.revoke("B1", exp, now + 1);
  store.set(REVOKED_INDEX_KEY, store.get(REVOKED_INDEX_KEY)!.replace(/,?\["A1"[^\]]*\]/, ""));
  const reader = kvRevocationList(kv, 100);
  counted.gets = 0;
  const page = await reader.changesSince(undefined, now + 2);
  expect(counted.gets).toBe(1);
  expect(page.revoked.map((e) => e.jti)).toEqual(["B1"]); // lost from the index for now...
  expect(await reader.isRevoked("A1", now + 2)).toBe(true); // ...while the signer's own check still sees it
  await isolateA.revoke("A2", exp, now + 3); // A's next write merges all of A's revocations again
  const later = kvRevocationList(kv, 100);
  expect((await later.changesSince(undefined, now + 4)).revoked.map((e) => e.jti).sort()).toEqual(["A1", "A2", "B1"]);
});

test("KV feed: a revocation lost to a concurrent index write reaches a verifier that kept polling, however late it comes back", async () => {
  const { kvRevocationList, REVOKED_INDEX_KEY } = await import("../../worker/tokens/revocation-list.js");
  const { decodeCursor } = await import("../../worker/tokens/revocation-feed.js");
  const { store, kv } = memoryKv();
  /** What another isolate's index write, made from an index read before `jti` reached it, leaves behind. */
  const loseFromIndex = (jti: string) => {
    const index = JSON.parse(store.get(REVOKED_INDEX_KEY)!) as { entries: unknown[][] };
    store.set(REVOKED_INDEX_KEY, JSON.stringify({ entries: index.entries.filter((e) => e[0] !== jti) }));
  };
  const t0 = Date.now();
  const exp = Math.floor(t0 / 1000) + 1800;
  const isolateA = kvRevocationList(kv, 100);
  const isolateB = kvRevocationList(kv, 100);

  // A verifier polls every 10 s with the cursor it was given, each time through a fresh isolate (no index cache) unless told.
  const seen = new Set<string>();
  let cursor: string | undefined;
  const poll = async (at: number, signer = kvRevocationList(kv, 100)) => {
    const page = await signer.changesSince(cursor === undefined ? undefined : decodeCursor(cursor), at);
    for (const e of page.revoked) seen.add(e.jti);
    cursor = page.cursor;
  };
  const pollUntil = async (from: number, to: number) => {
    for (let at = from; at < to; at += 10_000) await poll(at);
  };

  await isolateA.revoke("A1", exp, t0);
  await isolateB.revoke("B1", exp, t0 + 1);
  loseFromIndex("A1");
  await pollUntil(t0 + 2, t0 + 300_000);
  expect([...seen]).toEqual(["B1"]); // A1 lost from the index for now (the signer's own /verify still sees it)
  // Five minutes later isolate A signs out another session; its index write puts A1 back.
  await isolateA.revoke("A2", exp, t0 + 300_000);
  await poll(t0 + 300_005);
  expect([...seen].sort()).toEqual(["A1", "A2", "B1"]);

  // The same when the verifier's poll lands on isolate A itself, which has A3 in its own memory too.
  await isolateA.revoke("A3", exp, t0 + 320_000);
  loseFromIndex("A3");
  await pollUntil(t0 + 330_000, t0 + 600_000);
  seen.clear();
  await isolateA.revoke("A4", exp, t0 + 600_000);
  await poll(t0 + 600_001, isolateA);
  expect([...seen].sort()).toEqual(["A3", "A4"]);
});

test("KV feed: a full index keeps the newest sign-outs; one dropped as the oldest is not put back as new", async () => {
  const { kvRevocationList } = await import("../../worker/tokens/revocation-list.js");
  const { kv } = memoryKv();
  const t0 = Date.now();
  const exp = Math.floor(t0 / 1000) + 1800;
  const isolateA = kvRevocationList(kv, 2);
  const isolateB = kvRevocationList(kv, 2);
  await isolateA.revoke("A1", exp, t0);
  await isolateB.revoke("B1", exp, t0 + 1_000);
  await isolateB.revoke("B2", exp, t0 + 2_000); // the index holds 2: A1 goes, as the oldest
  await isolateA.revoke("A2", exp, t0 + 3_000);
  const page = await kvRevocationList(kv, 2).changesSince(undefined, t0 + 4_000);
  expect(page.revoked.map((e) => e.jti)).toEqual(["B2", "A2"]);
});
