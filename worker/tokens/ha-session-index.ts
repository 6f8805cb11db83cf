/**
 * Which cookies (JWT `jti`s) the signer issued for which Home Assistant session, so that
 * Home Assistant's "no" ends them all. A Home Assistant access token's `iss` is the id of
 * the refresh token it was made from, i.e. the session (one login on one device); a
 * refreshed access token keeps the same `iss`.
 *
 * When Home Assistant refuses an access token that it accepted before (the session was
 * revoked: sign-out, "delete" on the profile page; or the user was deactivated), every
 * JWT issued for that session goes on the deny-list. Only a refusal of a token the signer
 * itself saw accepted counts: anyone can make up a token with a known `iss` that Home
 * Assistant refuses, and that must not sign its owner out. An expired token never reaches
 * Home Assistant (the pre-check refuses it), so a token simply running out ends nothing.
 *
 * Per isolate / process memory, bounded: CACHE_MAX_ENTRIES sessions, each with at most
 * MAX_PER_SESSION live JWTs and accepted tokens (a session renews one cookie at a time,
 * so it holds two or three; beyond the bound the soonest-expiring is forgotten, and stays
 * valid until its `exp`). A refusal seen by another isolate ends only what that isolate
 * issued (docs/architecture.md, "When Home Assistant says no").
 */
import { BoundedCache } from "../bounded-cache.js";
import { HA_LEEWAY_SECONDS } from "../home-assistant/access-token-precheck.js";
import type { RevocationList } from "./revocation-list.js";
import { refusedFromMs } from "./verify.js";

export const MAX_PER_SESSION = 16;
/** How long a session end is remembered for requests that were already under way: longer than any HA_TIMEOUT. */
const ENDED_MEMORY_MS = 120_000;

/** A Home Assistant access token, as the pre-check read it. */
export interface HomeAssistantTokenRef {
  token: string;
  /** Its `iss`: the session. */
  issuer: string;
  /** Its `exp`, unix seconds. */
  expiresAt: number;
}

export interface HaSessionIndex {
  /**
   * The signer hands out JWT `jti` (expiring at `exp`, unix s) because Home Assistant accepted
   * `accepted`, in a request that started at `requestStartedMs`. False when that session has
   * been ended since the request started (its answer may predate the end): the JWT is then
   * revoked at once and must not be handed out.
   */
  record(accepted: HomeAssistantTokenRef, jwt: { jti: string; exp: number; sub: string }, requestStartedMs: number): Promise<boolean>;
  /**
   * Home Assistant refused `refused`. If the signer saw this very token accepted before, its
   * session is over: every JWT issued for it is revoked. Returns the session's user and how
   * many JWTs were revoked, or undefined when the token was not one the signer saw accepted.
   */
  endIfAccepted(refused: HomeAssistantTokenRef, nowMs: number): Promise<{ userId: string; revoked: number } | undefined>;
  /**
   * Signing out with the JWT `jti` (POST/GET /logout): every JWT issued for the same Home
   * Assistant session is revoked too, so cookies it replaced on renewal go with it. The session
   * may sign in again. Returns how many were revoked besides `jti`.
   */
  signOut(jti: string, nowMs: number): Promise<number>;
  readonly sizes: { sessions: number; ended: number };
}

interface SessionRecord {
  /** The Home Assistant user the session belongs to (JWT `sub`). */
  userId: string;
  /** Access tokens Home Assistant accepted → until when Home Assistant may still be asked about them (unix s). */
  tokens: Map<string, number>;
  /** Issued JWTs → their exp (unix s). */
  jwts: Map<string, number>;
}

/** Drops entries whose end (ms, `endOf` their value) has come, then the soonest-ending beyond the bound. */
function prune(entries: Map<string, number>, nowMs: number, endOf: (value: number) => number): void {
  for (const [key, value] of entries) if (endOf(value) <= nowMs) entries.delete(key);
  while (entries.size > MAX_PER_SESSION) {
    let soonest: string | undefined;
    for (const [key, exp] of entries) if (soonest === undefined || exp < entries.get(soonest)!) soonest = key;
    entries.delete(soonest!);
  }
}

export function createHaSessionIndex(revocations: RevocationList, maxEntries: number): HaSessionIndex {
  const sessions = new BoundedCache<string, SessionRecord>(maxEntries);
  /** Sessions ended by a refusal → when (ms). */
  const ended = new BoundedCache<string, number>(maxEntries);
  /** Issued JWT → its session, for sign-out. */
  const sessionOfJwt = new BoundedCache<string, string>(maxEntries);

  async function revokeAll(issuer: string, record: SessionRecord, now: number): Promise<number> {
    sessions.delete(issuer);
    // A JWT matters until it is refused as expired (exp + leeway), not just until its exp.
    const live = [...record.jwts].filter(([, exp]) => refusedFromMs(exp) > now);
    await Promise.all(live.map(([jti, exp]) => revocations.revoke(jti, exp, now)));
    return live.length;
  }

  return {
    get sizes() {
      return { sessions: sessions.size, ended: ended.size };
    },

    async record(accepted, jwt, requestStartedMs) {
      const endedAt = ended.get(accepted.issuer, requestStartedMs);
      if (endedAt !== undefined && endedAt >= requestStartedMs) {
        await revocations.revoke(jwt.jti, jwt.exp, requestStartedMs);
        return false;
      }
      const record = sessions.get(accepted.issuer, requestStartedMs) ?? { userId: jwt.sub, tokens: new Map(), jwts: new Map() };
      record.tokens.set(accepted.token, accepted.expiresAt + HA_LEEWAY_SECONDS);
      record.jwts.set(jwt.jti, jwt.exp);
      sessionOfJwt.set(jwt.jti, accepted.issuer, refusedFromMs(jwt.exp));
      prune(record.tokens, requestStartedMs, (until) => until * 1000);
      prune(record.jwts, requestStartedMs, refusedFromMs);
      // The record lives as long as its longest-lived JWT is accepted.
      sessions.set(accepted.issuer, record, Math.max(...[...record.jwts.values()].map(refusedFromMs)));
      return true;
    },

    async endIfAccepted(refused, now) {
      const record = sessions.get(refused.issuer, now);
      if (!record || !record.tokens.has(refused.token)) return undefined;
      // Marked before the revocations' awaits, so that a JWT being issued meanwhile is caught by record().
      ended.set(refused.issuer, now, now + ENDED_MEMORY_MS);
      return { userId: record.userId, revoked: await revokeAll(refused.issuer, record, now) };
    },

    async signOut(jti, now) {
      const issuer = sessionOfJwt.get(jti, now);
      const record = issuer === undefined ? undefined : sessions.get(issuer, now);
      if (issuer === undefined || !record?.jwts.has(jti)) return 0;
      record.jwts.delete(jti); // the caller revokes it
      return revokeAll(issuer, record, now);
    },
  };
}
