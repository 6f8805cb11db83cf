/**
 * The verifier's key set and deny-list copy on their own, with a scripted signer: a bad or
 * empty JWKS never replaces a good one, a dropped key stops verifying after a refresh, and
 * the feed's cursor pages forward without missing or looping.
 */
import { describe, expect, test } from "vitest";
import { generateKeyPair } from "../../worker/tokens/keys.js";
import { memoryRevocationList } from "../../worker/tokens/revocation-list.js";
import { decodeCursor, FEED_OVERLAP_MS, feedPage } from "../../worker/tokens/revocation-feed.js";
import { signJwt, sessionClaims } from "../../worker/tokens/sign.js";
import { importKeyRing } from "../../worker/tokens/keys.js";
import { createKeySet } from "../../worker/verifier/key-set.js";
import { createRevocationCopy } from "../../worker/verifier/revocation-copy.js";
import { fetchSignerDocument } from "../../worker/verifier/signer-fetch.js";

const CLAIMS = { issuer: "homeassistant", audience: ["homeassistant"] };

async function tokenFor(pem: string): Promise<string> {
  const ring = await importKeyRing(pem, []);
  return signJwt(ring, sessionClaims({ id: "u1", name: "U", roles: ["user"] } as never, { ...CLAIMS, ttl: 600, now: Date.now() }));
}

describe("verifier key set", () => {
  test("a bad, empty or unreachable JWKS keeps the last good keys; a dropped key stops verifying", async () => {
    const [a, b] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    let answer: { ok: true; body: unknown; maxAgeMs: undefined } | { ok: false; error: string } = { ok: true, body: { keys: [a.publicJwk, b.publicJwk] }, maxAgeMs: undefined };
    const set = createKeySet({ fetchJwks: async () => answer, unknownKidRefetchMs: 60_000, cacheMaxEntries: 100 });
    set.setClaims(CLAIMS);
    expect((await set.refresh(Date.now())).ok).toBe(true);
    const tokenA = await tokenFor(a.privatePem);
    expect((await set.verifier.verify(tokenA, Date.now())).ok).toBe(true);
    for (const bad of [{ keys: [] }, { keys: [{ ...a.privateJwk }] }, { keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }, { nope: 1 }, "text"]) {
      answer = { ok: true, body: bad, maxAgeMs: undefined };
      expect((await set.refresh(Date.now())).ok, JSON.stringify(bad)).toBe(false);
      expect(set.status().kids).toEqual([a.kid, b.kid]);
      expect(set.status().lastError).toMatch(/JWKS refused/);
    }
    answer = { ok: false, error: "connection refused" };
    expect((await set.refresh(Date.now())).ok).toBe(false);
    expect((await set.verifier.verify(tokenA, Date.now())).ok).toBe(true);
    answer = { ok: true, body: { keys: [b.publicJwk] }, maxAgeMs: undefined };
    expect((await set.refresh(Date.now())).ok).toBe(true);
    expect(await set.verifier.verify(tokenA, Date.now())).toEqual({ ok: false, reason: "unknown_key" });
  });
});

describe("deny-list feed", () => {
  test("pages forward in (revokedAt, jti) order, never loops, and a complete page looks back FEED_OVERLAP_MS", () => {
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 600;
    const entries = Array.from({ length: 25 }, (_, i) => ({ jti: `j${String(i).padStart(2, "0")}`, exp, revokedAt: now - 1000 + (i % 5) }));
    // Past exp + the 10 s leeway: its token is refused anyway (a token 1 s past exp is not, and is listed).
    entries.push({ jti: "expired", exp: Math.floor(now / 1000) - 12, revokedAt: now - 10 });
    const seen: string[] = [];
    let since = undefined as ReturnType<typeof decodeCursor>;
    for (let i = 0; i < 10; i++) {
      const page = feedPage(entries, since, now, 10);
      seen.push(...page.revoked.map((e) => e.jti));
      since = decodeCursor(page.cursor);
      expect(since).toBeDefined();
      if (!page.more) break;
    }
    expect(new Set(seen).size).toBe(25);
    expect(seen).toHaveLength(25);
    expect(seen).not.toContain("expired");
    expect(since).toEqual({ at: now - FEED_OVERLAP_MS, jti: "" });
    // An entry that shows up late, with a position before the last cursor, is still sent.
    entries.push({ jti: "late", exp, revokedAt: now - 60_000 });
    expect(feedPage(entries, since, now).revoked.map((e) => e.jti)).toContain("late");
    for (const bad of ["", "abc", "1.2.3", "1.a b", "9".repeat(16)]) expect(decodeCursor(bad), bad).toBeUndefined();
  });

  test("the verifier's copy takes every page, bounds itself and drops entries past exp", async () => {
    const now = Date.now();
    const list = memoryRevocationList(1000);
    for (let i = 0; i < 2500; i++) await list.revoke(`jti-${i}`, Math.floor(now / 1000) + (i < 100 ? 5 : 600), now + i);
    let calls = 0;
    const copy = createRevocationCopy({
      fetchPage: async (cursor) => {
        calls++;
        return { ok: true, body: await list.changesSince(cursor ? decodeCursor(cursor) : undefined, now + 3000) };
      },
      maxEntries: 500,
    });
    expect(await copy.poll(now)).toBe(true);
    expect(copy.status().entries).toBe(500); // its own bound, the newest kept
    expect(await copy.isRevoked("jti-2499", now)).toBe(true);
    expect(calls).toBe(1); // the signer's list kept 1,000 (its CACHE_MAX_ENTRIES): one page
    const bounded = createRevocationCopy({ fetchPage: async () => ({ ok: true, body: { revoked: [{ jti: "x", exp: Math.floor(now / 1000) + 1 }], cursor: "1", more: false } }), maxEntries: 10 });
    await bounded.poll(now);
    expect(await bounded.isRevoked("x", now)).toBe(true);
    expect(await bounded.isRevoked("x", now + 12_000)).toBe(false); // exp + leeway passed
    const broken = createRevocationCopy({ fetchPage: async () => ({ ok: true, body: { revoked: "nope" } }), maxEntries: 10 });
    expect(await broken.poll(now)).toBe(false);
    expect(broken.status().lastError).toMatch(/not a feed page/);
    // A cursor the feed never gives out (here a lone surrogate, which no URL can carry) is
    // refused with its page, so the next poll still asks from the last good position.
    const asked: Array<string | undefined> = [];
    let answer: unknown = { revoked: [{ jti: "y", exp: Math.floor(now / 1000) + 600 }], cursor: "\ud800", more: false };
    const oddCursor = createRevocationCopy({
      fetchPage: async (cursor) => {
        asked.push(cursor);
        return { ok: true, body: answer };
      },
      maxEntries: 10,
    });
    expect(await oddCursor.poll(now)).toBe(false);
    expect(oddCursor.status().lastError).toMatch(/not a feed page/);
    expect(await oddCursor.isRevoked("y", now)).toBe(false);
    answer = { revoked: [{ jti: "y", exp: Math.floor(now / 1000) + 600 }], cursor: `${now}.y`, more: false };
    expect(await oddCursor.poll(now)).toBe(true);
    expect(asked).toEqual([undefined, undefined]);
    expect(await oddCursor.isRevoked("y", now)).toBe(true);
  });

  test("the copy's version moves with every sign-out it learns of, not with the feed's overlap", async () => {
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 600;
    let revoked = [{ jti: "a", exp }];
    const copy = createRevocationCopy({ fetchPage: async () => ({ ok: true, body: { revoked, cursor: "1", more: false } }), maxEntries: 10 });
    const before = copy.version();
    await copy.poll(now);
    const afterFirst = copy.version();
    expect(afterFirst).not.toBe(before);
    await copy.poll(now + 1000); // the same entry again (overlap): nothing new
    expect(copy.version()).toBe(afterFirst);
    revoked = [{ jti: "a", exp }, { jti: "b", exp }];
    await copy.poll(now + 2000);
    expect(copy.version()).not.toBe(afterFirst);
    expect(await copy.isRevoked("b", now + 2000)).toBe(true);
  });
});

describe("documents from the signer", () => {
  test("an answer over the size bound is refused as soon as it passes the bound, not once it has all been read", async () => {
    const chunk = new TextEncoder().encode(`${" ".repeat(65_535)}\n`);
    let sent = 0;
    let cancelled = false;
    // 3 MB of JSON whitespace, then the connection stays open: a signer (or whatever answers at SIGNER_URL) that never ends.
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent < 3_000_000) {
          controller.enqueue(chunk);
          sent += chunk.byteLength;
        }
      },
      cancel() {
        cancelled = true;
      },
    });
    const answer = fetchSignerDocument(async () => new Response(endless, { status: 200 }), "http://signer.test/revocations");
    const outcome = await Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve("still reading"), 2_000))]);
    expect(outcome).toEqual({ ok: false, error: "http://signer.test/revocations: answer larger than 2000000 bytes" });
    expect(sent).toBeLessThan(2_200_000); // read no further than the bound
    expect(cancelled).toBe(true);
  });

  test("an answer within the bound is parsed, multi-byte characters split across chunks included", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ name: "Zoë 😀", n: 1 }));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
        controller.close();
      },
    });
    const document = await fetchSignerDocument(async () => new Response(body, { status: 200, headers: { "Cache-Control": "max-age=60" } }), "http://signer.test/x");
    expect(document).toEqual({ ok: true, body: { name: "Zoë 😀", n: 1 }, maxAgeMs: 60_000 });
  });
});
