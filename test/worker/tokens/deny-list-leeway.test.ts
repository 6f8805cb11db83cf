/**
 * A sign-out lasts as long as the token is accepted. /verify accepts a token until exp + the
 * 10 s leeway (checkTimes), so every record of a sign-out (memory list, KV keys and index,
 * the feed, the Node file, the Home Assistant session index) must last that long too; one
 * that ended at exp let a signed-out cookie back in for the leeway's last seconds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createApp } from "../../../worker/app.js";
import { openRevocationFile } from "../../../worker/node-revocation-file.js";
import { createHaSessionIndex } from "../../../worker/tokens/ha-session-index.js";
import { importKeyRing } from "../../../worker/tokens/keys.js";
import { feedPage } from "../../../worker/tokens/revocation-feed.js";
import { kvRevocationList, memoryRevocationList } from "../../../worker/tokens/revocation-list.js";
import { sessionClaims, signJwt } from "../../../worker/tokens/sign.js";
import { checkTimes, refusedFromMs, VERIFY_LEEWAY_SECONDS } from "../../../worker/tokens/verify.js";
import { testSigningKey } from "../../support/signer.js";

const NOW = 1_800_000_000_000;
const EXP = NOW / 1000 - 3; // already past its exp, still accepted (leeway)
/** The last millisecond at which checkTimes still accepts a token with exp EXP. */
const LAST_ACCEPTED = (EXP + VERIFY_LEEWAY_SECONDS + 1) * 1000 - 1;

/** A KV stand-in that honours expirationTtl against a clock the test moves. */
function clockedKv(clock: { now: number }) {
  const store = new Map<string, { value: string; until: number }>();
  return {
    store,
    async get(key: string) {
      const entry = store.get(key);
      return entry && entry.until > clock.now ? entry.value : null;
    },
    async put(key: string, value: string, options?: { expirationTtl?: number }) {
      store.set(key, { value, until: options?.expirationTtl === undefined ? Infinity : clock.now + options.expirationTtl * 1000 });
    },
  };
}

test("refusedFromMs is where checkTimes stops accepting", () => {
  const claims = { exp: EXP, nbf: EXP - 100, iat: EXP - 100 } as Parameters<typeof checkTimes>[0];
  expect(checkTimes(claims, Math.floor(LAST_ACCEPTED / 1000))).toBeUndefined();
  expect(checkTimes(claims, Math.floor(refusedFromMs(EXP) / 1000))).toBe("expired");
  expect(refusedFromMs(EXP)).toBe(LAST_ACCEPTED + 1);
});

describe("every record of a sign-out lasts until the token is refused as expired", () => {
  test("memory list (and the Node signer's restored entries)", async () => {
    const list = memoryRevocationList(10, { restored: [{ jti: "R", exp: EXP, revokedAt: NOW - 1000 }] });
    await list.revoke("J", EXP, NOW);
    for (const jti of ["J", "R"]) {
      expect(await list.isRevoked(jti, LAST_ACCEPTED)).toBe(true);
      expect(await list.isRevoked(jti, refusedFromMs(EXP))).toBe(false);
    }
  });

  test("KV: the per-session key and the index, seen by another isolate", async () => {
    const clock = { now: NOW };
    const kv = clockedKv(clock);
    const far = NOW / 1000 + 3600; // a TTL above KV's 60 s minimum
    await kvRevocationList(kv, 10).revoke("FAR", far, NOW);
    await kvRevocationList(kv, 10).revoke("NEAR", EXP, NOW);
    clock.now = (far + VERIFY_LEEWAY_SECONDS + 1) * 1000 - 1;
    const other = kvRevocationList(kv, 10);
    expect(await other.isRevoked("FAR", clock.now)).toBe(true);
    const feed = await other.changesSince(undefined, clock.now);
    expect(feed.revoked.map((e) => e.jti)).toEqual(["FAR"]);
    clock.now = NOW + 59_000;
    expect(await kvRevocationList(kv, 10).isRevoked("NEAR", clock.now)).toBe(true);
  });

  test("the feed lists an entry until exp + leeway", () => {
    const entries = [{ jti: "J", exp: EXP, revokedAt: NOW }];
    expect(feedPage(entries, undefined, LAST_ACCEPTED).revoked).toEqual([{ jti: "J", exp: EXP }]);
    expect(feedPage(entries, undefined, refusedFromMs(EXP)).revoked).toEqual([]);
  });

  test("the Node signer's file keeps it across a restart within the leeway", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deny-list-leeway-"));
    try {
      const first = await openRevocationFile(dir, NOW);
      await first.store.append({ jti: "J", exp: EXP, revokedAt: NOW });
      await first.close();
      const restarted = await openRevocationFile(dir, LAST_ACCEPTED);
      expect(restarted.restored.map((e) => e.jti)).toEqual(["J"]);
      await restarted.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("Home Assistant ending a session revokes its JWTs that are still within the leeway", async () => {
    const list = memoryRevocationList(10);
    const index = createHaSessionIndex(list, 10);
    const haToken = { token: "ha-token", issuer: "ha-session", expiresAt: NOW / 1000 + 1800 };
    expect(await index.record(haToken, { jti: "J", exp: EXP, sub: "user" }, NOW)).toBe(true);
    expect(await index.endIfAccepted(haToken, NOW + 1000)).toEqual({ userId: "user", revoked: 1 });
    expect(await list.isRevoked("J", LAST_ACCEPTED)).toBe(true);
  });
});

test("a cookie signed out in its leeway seconds is refused by /verify (the signer, end to end)", async () => {
  const pem = await testSigningKey();
  const user = { id: "0123456789abcdef0123456789abcdef", name: "Leeway", is_admin: false, is_owner: false };
  const app = createApp({ clientAddress: () => "127.0.0.1", fetchUser: async () => user });
  const env = { HA_URL: "http://127.0.0.1:9", SIGNING_KEY: pem, LOCAL_ONLY_CHECK: "off", HA_LOGIN_ATTEMPTS_THRESHOLD: "off" };
  const now = Date.now();
  // A real session, minted so that its exp passed 3 s ago: still accepted for 7 s more.
  const claims = sessionClaims(user, { issuer: "homeassistant", audience: ["homeassistant"], ttl: 60, now: now - 63_000 });
  const cookie = `jwt_access_token=${await signJwt(await importKeyRing(pem, []), claims)}`;
  const verify = () => app.fetch(new Request("http://signer.test/verify", { headers: { Cookie: cookie } }), env);
  expect((await verify()).status).toBe(200);
  const logout = await app.fetch(new Request("http://signer.test/logout", { method: "POST", headers: { Cookie: cookie } }), env);
  expect(logout.status).toBe(200);
  const after = await verify();
  expect(after.status).toBe(401);
  expect(await after.json()).toMatchObject({ error: "invalid_session" });
});
