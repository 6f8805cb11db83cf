/**
 * The deny-list as a feed for local verifiers: pages of signed-out sessions ({jti, exp}
 * only), oldest revocation first, and a cursor to ask for what came after. A position is
 * (revokedAt ms, jti), a total order, so paging always moves forward. A complete page's
 * cursor points FEED_OVERLAP_MS back from now, so a revocation that becomes visible late
 * (KV takes up to 60 s to show a write elsewhere; a concurrent request may record one while
 * a page is being built) is still sent on a later poll. Re-sending is harmless: the
 * verifier keeps the union, and entries only ever leave by expiring.
 */
import { refusedFromMs } from "./verify.js";

export interface RevokedSession {
  jti: string;
  /** The JWT's exp (unix seconds): the entry is useless once the token is refused as expired (refusedFromMs). */
  exp: number;
  /** When it was revoked (ms): its position in the feed. */
  revokedAt: number;
}

export interface FeedPosition {
  at: number;
  jti: string;
}

export interface RevocationFeedPage {
  revoked: Array<{ jti: string; exp: number }>;
  cursor: string;
  /** true when the page was cut at the limit: ask again at once with the cursor. */
  more: boolean;
}

/** Longer than KV's documented 60 s propagation, plus clock differences between locations. */
export const FEED_OVERLAP_MS = 120_000;
export const FEED_PAGE_LIMIT = 1000;

const CURSOR = /^(\d{1,15})(?:\.([A-Za-z0-9_-]{1,128}))?$/;

export function encodeCursor(position: FeedPosition): string {
  return position.jti ? `${position.at}.${position.jti}` : String(position.at);
}

/** The position a cursor names, or undefined when it is not one the feed gave out. */
export function decodeCursor(cursor: string): FeedPosition | undefined {
  const match = CURSOR.exec(cursor);
  return match ? { at: Number(match[1]), jti: match[2] ?? "" } : undefined;
}

function after(entry: RevokedSession, position: FeedPosition): boolean {
  return entry.revokedAt > position.at || (entry.revokedAt === position.at && entry.jti > position.jti);
}

/** One page of `entries` (any order, expired ones included) after `since`. */
export function feedPage(entries: Iterable<RevokedSession>, since: FeedPosition | undefined, nowMs: number, limit = FEED_PAGE_LIMIT): RevocationFeedPage {
  // Listed while the token is still accepted (exp + leeway), not just until its exp.
  const due = [...entries]
    .filter((e) => refusedFromMs(e.exp) > nowMs && (since === undefined || after(e, since)))
    .sort((a, b) => a.revokedAt - b.revokedAt || (a.jti < b.jti ? -1 : a.jti > b.jti ? 1 : 0));
  const page = due.slice(0, limit);
  const more = due.length > limit;
  const last = page[page.length - 1];
  const cursor = more && last ? { at: last.revokedAt, jti: last.jti } : { at: Math.max(0, nowMs - FEED_OVERLAP_MS), jti: "" };
  return { revoked: page.map(({ jti, exp }) => ({ jti, exp })), cursor: encodeCursor(cursor), more };
}
