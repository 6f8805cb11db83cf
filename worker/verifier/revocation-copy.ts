/**
 * The verifier's copy of the signer's deny-list, kept up to date by polling the feed
 * (GET /revocations?since=<cursor>, tokens/revocation-feed.ts). Bounded like every cache
 * (CACHE_MAX_ENTRIES) and each entry dropped once its JWT is past exp (+ the verify
 * leeway), so the copy never grows with time. When the signer cannot be reached the copy
 * is kept as it is: sign-outs made meanwhile reach this verifier on the next good poll.
 */
import { BoundedCache } from "../bounded-cache.js";
import { decodeCursor } from "../tokens/revocation-feed.js";
import { refusedFromMs } from "../tokens/verify.js";

export interface FeedAnswer {
  revoked: Array<{ jti: string; exp: number }>;
  cursor: string;
  more: boolean;
}

export interface RevocationCopyStatus {
  entries: number;
  /** When the copy last caught up with the signer (ms). */
  syncedAt: number | undefined;
  polls: number;
  lastError: string | undefined;
}

/** Pages fetched in one poll at most (a page holds up to 1,000 entries). */
const MAX_PAGES_PER_POLL = 20;

function isFeedAnswer(body: unknown): body is FeedAnswer {
  const b = body as Partial<FeedAnswer> | null;
  return (
    !!b &&
    // Only a cursor the feed gives out: it is sent back in the next request's URL.
    typeof b.cursor === "string" &&
    decodeCursor(b.cursor) !== undefined &&
    typeof b.more === "boolean" &&
    Array.isArray(b.revoked) &&
    b.revoked.every((e) => !!e && typeof e.jti === "string" && e.jti !== "" && Number.isFinite(e.exp))
  );
}

export function createRevocationCopy(options: {
  fetchPage: (cursor: string | undefined) => Promise<{ ok: true; body: unknown } | { ok: false; error: string }>;
  maxEntries: number;
}) {
  const revoked = new BoundedCache<string, true>(options.maxEntries);
  let cursor: string | undefined;
  let syncedAt: number | undefined;
  let polls = 0;
  let lastError: string | undefined;
  // Bumped with every sign-out the copy learns of (see RevocationList.version).
  let version = 0;

  return {
    async isRevoked(jti: string, now: number): Promise<boolean> {
      return revoked.get(jti, now) === true;
    },
    version: (): number => version,
    /** Fetches what changed since the last poll; true when the copy caught up. */
    async poll(now: number): Promise<boolean> {
      polls++;
      for (let page = 0; page < MAX_PAGES_PER_POLL; page++) {
        const answer = await options.fetchPage(cursor);
        if (!answer.ok) {
          lastError = answer.error;
          return false;
        }
        if (!isFeedAnswer(answer.body)) {
          lastError = "the deny-list feed answered something that is not a feed page; copy kept";
          return false;
        }
        for (const { jti, exp } of answer.body.revoked) {
          // The feed sends recent entries again (its overlap): only a sign-out not yet known is a change.
          if (revoked.peek(jti, now) === undefined) version++;
          revoked.set(jti, true, refusedFromMs(exp));
        }
        cursor = answer.body.cursor;
        if (!answer.body.more) {
          syncedAt = now;
          lastError = undefined;
          return true;
        }
      }
      return false; // more next time, from the cursor reached
    },
    status: (): RevocationCopyStatus => ({ entries: revoked.size, syncedAt, polls, lastError }),
  };
}

export type RevocationCopy = ReturnType<typeof createRevocationCopy>;
