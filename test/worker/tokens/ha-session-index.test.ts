/**
 * Issue 12: Home Assistant refusing a token it accepted before ends every cookie the signer
 * issued for that Home Assistant session (same `iss`), and nothing else.
 */
import { describe, expect, test } from "vitest";
import { createHaSessionIndex, MAX_PER_SESSION } from "../../../worker/tokens/ha-session-index.js";
import { memoryRevocationList, type RevocationList } from "../../../worker/tokens/revocation-list.js";

const now = Date.now();
const nowSeconds = Math.floor(now / 1000);
const S1 = "1".repeat(32);
const S2 = "2".repeat(32);
const haToken = (token: string, issuer = S1, expiresAt = nowSeconds + 1800) => ({ token, issuer, expiresAt });
const jwt = (jti: string, exp = nowSeconds + 1800) => ({ jti, exp, sub: "user-1" });
/** How many JWTs a session end revoked (0 when the refused token was not one seen accepted). */
const revokedBy = (ended: { revoked: number } | undefined) => ended?.revoked ?? 0;

function setup() {
  const revocations = memoryRevocationList(1000);
  const revoked: string[] = [];
  const spy: RevocationList = {
    kind: "memory",
    revoke: async (jti, exp, at) => {
      revoked.push(jti);
      await revocations.revoke(jti, exp, at);
    },
    isRevoked: (jti, at) => revocations.isRevoked(jti, at),
    version: () => revocations.version(),
    changesSince: (since, at) => revocations.changesSince(since, at),
  };
  return { index: createHaSessionIndex(spy, 100), revoked, revocations };
}

describe("Home Assistant session index", () => {
  test("a refusal of a token accepted before revokes every JWT of its session, refreshed tokens' included", async () => {
    const { index, revoked, revocations } = setup();
    expect(await index.record(haToken("T1"), jwt("J1"), now)).toBe(true);
    expect(await index.record(haToken("T1"), jwt("J1"), now)).toBe(true); // handed out again: no duplicate
    expect(await index.record(haToken("T2"), jwt("J2"), now)).toBe(true); // the refreshed access token, same iss
    expect(await index.record(haToken("U1", S2), jwt("K1"), now)).toBe(true); // another session
    expect(revokedBy(await index.endIfAccepted(haToken("T1"), now + 1000))).toBe(2);
    expect(revoked.sort()).toEqual(["J1", "J2"]);
    expect(await revocations.isRevoked("J1", now + 1000)).toBe(true);
    expect(await revocations.isRevoked("K1", now + 1000)).toBe(false);
  });

  test("a refused token the signer never saw accepted ends nothing, even with a known iss (anyone can forge one)", async () => {
    const { index, revoked } = setup();
    await index.record(haToken("T1"), jwt("J1"), now);
    expect(revokedBy(await index.endIfAccepted(haToken("FORGED"), now))).toBe(0);
    expect(revokedBy(await index.endIfAccepted(haToken("T1", S2), now))).toBe(0); // right token string, other session
    expect(revoked).toEqual([]);
    // The session is not marked as ended: the next JWT for it is handed out.
    expect(await index.record(haToken("T1"), jwt("J2"), now + 1)).toBe(true);
  });

  test("a JWT issued by a request that started before the session ended is revoked at once and refused", async () => {
    const { index, revoked } = setup();
    await index.record(haToken("T1"), jwt("J1"), now);
    await index.endIfAccepted(haToken("T1"), now + 500);
    // This request started before the end: its answer from Home Assistant may predate it.
    expect(await index.record(haToken("T2"), jwt("J2"), now + 400)).toBe(false);
    expect(await index.record(haToken("T2"), jwt("J2b"), now + 500)).toBe(false);
    expect(revoked.sort()).toEqual(["J1", "J2", "J2b"]);
    // A request that started afterwards had its own, newer answer (e.g. the user was reactivated).
    expect(await index.record(haToken("T2"), jwt("J3"), now + 501)).toBe(true);
    expect(revokedBy(await index.endIfAccepted(haToken("T2"), now + 600))).toBe(1);
    expect(revoked).toContain("J3");
  });

  test("a second refusal of the same session revokes nothing twice", async () => {
    const { index, revoked } = setup();
    await index.record(haToken("T1"), jwt("J1"), now);
    expect(revokedBy(await index.endIfAccepted(haToken("T1"), now))).toBe(1);
    expect(revokedBy(await index.endIfAccepted(haToken("T1"), now))).toBe(0);
    expect(revoked).toEqual(["J1"]);
  });

  test("expired JWTs are not revoked (nothing to do) and expired HA tokens are forgotten", async () => {
    const { index, revoked } = setup();
    await index.record(haToken("OLD", S1, nowSeconds + 5), jwt("J-old", nowSeconds + 60), now);
    await index.record(haToken("T2"), jwt("J2"), now);
    // OLD's exp + 10 s leeway has passed: Home Assistant is never asked about it again.
    const later = now + 20_000;
    await index.record(haToken("T3"), jwt("J3"), later);
    expect(revokedBy(await index.endIfAccepted(haToken("OLD", S1, nowSeconds + 5), later))).toBe(0);
    expect(revokedBy(await index.endIfAccepted(haToken("T3"), now + 72_000))).toBe(2); // J2, J3; J-old is past exp + leeway
    expect(revoked.sort()).toEqual(["J2", "J3"]);
  });

  test("signing out with one JWT revokes the others of its session, not other sessions, and does not end the session", async () => {
    const { index, revoked } = setup();
    await index.record(haToken("T1"), jwt("J1"), now);
    await index.record(haToken("T2"), jwt("J2"), now);
    await index.record(haToken("U1", S2), jwt("K1"), now);
    expect(await index.signOut("J2", now)).toBe(1);
    expect(revoked).toEqual(["J1"]); // J2 itself is the caller's to revoke
    expect(await index.signOut("J2", now)).toBe(0);
    expect(await index.signOut("unknown", now)).toBe(0);
    // Signing in again with the same Home Assistant session works.
    expect(await index.record(haToken("T2"), jwt("J3"), now + 1)).toBe(true);
    expect(revoked).toEqual(["J1"]);
  });

  test("bounded: at most MAX_PER_SESSION JWTs per session (the soonest-expiring go) and CACHE_MAX_ENTRIES sessions", async () => {
    const { index, revoked } = setup();
    for (let i = 0; i < MAX_PER_SESSION + 5; i++) await index.record(haToken(`T${i}`), jwt(`J${i}`, nowSeconds + 100 + i), now);
    expect(revokedBy(await index.endIfAccepted(haToken(`T${MAX_PER_SESSION + 4}`), now))).toBe(MAX_PER_SESSION);
    expect(revoked).not.toContain("J0");
    expect(revoked).toContain(`J${MAX_PER_SESSION + 4}`);
    for (let i = 0; i < 1000; i++) await index.record(haToken(`X${i}`, i.toString(16).padStart(32, "0")), jwt(`K${i}`), now);
    expect(index.sizes.sessions).toBe(100);
  });
});
