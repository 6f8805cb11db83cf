/**
 * THE check's allowed answers (session-check.ts), remembered for identical requests: a proxy
 * asks /verify once for every request of a page, with the same cookie, so a repeated check
 * is a lookup instead of Cookie parsing, the verified-token cache, the deny-list, ACCESS_RULES
 * and a chain of promises. It is not a second check: an entry is the check's own outcome,
 * used again only while everything it depended on is unchanged:
 *   - the request: the protected host, the whole Cookie header and the whole Authorization
 *     header, compared in full (method, Accept and the URL only shape refusals);
 *   - exactly one credential was presented. With several values under our cookie name the
 *     answer also depends on how the others fare later (a not-yet-valid one of another user
 *     turns it into "ambiguous_cookie"), so such answers are not remembered;
 *   - time: the chosen token's exp/nbf/iat are checked again at every use, with the
 *     verifier's own rule (tokens/verify.ts checkTimes);
 *   - keys and policy: the verifier's keysVersion() and the policy object; when either
 *     changes, everything remembered is forgotten;
 *   - the deny-list: its version(), bumped by every sign-out it records, so a signed-out
 *     session is refused on the very next request; a list without one (KV, where other
 *     isolates' sign-outs arrive unseen) is asked about the session on every use instead.
 * Refusals are never remembered: they are answered by the check itself every time.
 */
import { BoundedCache } from "../bounded-cache.js";
import type { RevocationList } from "../tokens/revocation-list.js";
import { checkTimes, refusedFromMs, type Verifier } from "../tokens/verify.js";
import type { CheckOutcome } from "./session-check.js";

export type AllowedOutcome = Extract<CheckOutcome, { kind: "allowed" }>;

/** What the check read besides the request; a change in any of them forgets every entry. */
export interface ApprovalSources {
  verifier: Pick<Verifier, "keysVersion">;
  revocations: Pick<RevocationList, "isRevoked" | "version">;
}

/** The request's part of the key. */
export interface ApprovalRequest {
  host: string | undefined;
  cookieHeader: string | undefined;
  authorization: string | undefined;
}

/** At most this many entries, whatever CACHE_MAX_ENTRIES says (each holds a request's headers). */
export const MAX_REMEMBERED_APPROVALS = 1_024;
/** Longer requests (host + Cookie + Authorization, in characters) are checked, never remembered. */
export const MAX_APPROVAL_KEY_CHARS = 8_192;

/** Where an approval is filed: cheap to hash (a few short slices, not kilobytes); the whole request is compared on recall. */
function slot(request: ApprovalRequest): string | undefined {
  const { host = "", cookieHeader = "", authorization = "" } = request;
  if (host.length + cookieHeader.length + authorization.length > MAX_APPROVAL_KEY_CHARS) return undefined;
  return `${host}|${sample(cookieHeader)}|${sample(authorization)}`;
}

// V8 hashes a whole string for a Map look-up, about 2.5 ns per character: 1 µs or more for a
// Cookie header. A JWT's signature and jti are random, so its length, middle and end tell
// requests apart almost always; when they do not, the entries just replace each other.
function sample(value: string): string {
  const middle = value.length >> 1;
  return `${value.length}${value.slice(middle - 12, middle + 12)}${value.slice(-24)}`;
}

interface Entry extends ApprovalRequest {
  outcome: AllowedOutcome;
}

export interface RememberedApprovals {
  readonly size: number;
  /**
   * Brings the memory up to date with the sources (forgetting everything if keys, policy or
   * deny-list moved) and returns its epoch, to hand to remember() once the check is done.
   */
  sync(sources: ApprovalSources, policy: object): number;
  /**
   * The outcome remembered for exactly this request, still within the chosen token's times;
   * call sync() first. `askDenyList`: the deny-list has no version, the caller must ask it.
   */
  recall(request: ApprovalRequest, nowMs: number): { outcome: AllowedOutcome; askDenyList: boolean } | undefined;
  /** Keeps an allowed outcome computed from one credential, unless anything moved since `epoch`. */
  remember(request: ApprovalRequest, outcome: AllowedOutcome, epoch: number, sources: ApprovalSources, policy: object): void;
  forget(request: ApprovalRequest): void;
}

function sameRequest(entry: ApprovalRequest, request: ApprovalRequest): boolean {
  return entry.cookieHeader === request.cookieHeader && entry.authorization === request.authorization && entry.host === request.host;
}

export function createRememberedApprovals(maxEntries: number): RememberedApprovals {
  const entries = new BoundedCache<string, Entry>(Math.min(maxEntries, MAX_REMEMBERED_APPROVALS));
  // The entry recalled last, with its slot: a page view repeats one request many times, and
  // comparing it with this one costs less than building its slot and looking that up (V8
  // hashes a newly built key string in full on every Map look-up). Dropped with its entry.
  let last: { key: string; entry: Entry } | undefined;
  let epoch = 0;
  let policyNow: object | undefined;
  let keysNow: number | undefined;
  let denyListNow: number | undefined;

  function sync(sources: ApprovalSources, policy: object): number {
    const keys = sources.verifier.keysVersion();
    const denyList = sources.revocations.version();
    if (policy !== policyNow || keys !== keysNow || denyList !== denyListNow) {
      entries.clear();
      last = undefined;
      epoch++;
      policyNow = policy;
      keysNow = keys;
      denyListNow = denyList;
    }
    return epoch;
  }

  function drop(key: string): void {
    entries.delete(key);
    if (last?.key === key) last = undefined;
  }

  return {
    get size() {
      return entries.size;
    },
    sync,
    recall(request, now) {
      let found = last !== undefined && sameRequest(last.entry, request) ? last : undefined;
      if (!found) {
        const key = slot(request);
        // Not refreshed on use (no re-insertion per request): the oldest entries go first.
        const entry = key === undefined ? undefined : entries.peek(key, now);
        if (!entry || !sameRequest(entry, request)) return undefined;
        found = last = { key: key!, entry };
      }
      const { key, entry } = found;
      if (checkTimes(entry.outcome.claims, Math.floor(now / 1000)) !== undefined) {
        drop(key);
        return undefined;
      }
      return { outcome: entry.outcome, askDenyList: denyListNow === undefined };
    },
    remember(request, outcome, since, sources, policy) {
      const key = slot(request);
      if (key === undefined) return;
      if (sync(sources, policy) !== since) return; // a sign-out, new keys or a new policy arrived meanwhile
      const { host, cookieHeader, authorization } = request;
      if (last?.key === key) last = undefined;
      entries.set(key, { host, cookieHeader, authorization, outcome }, refusedFromMs(outcome.claims.exp));
    },
    forget(request) {
      const key = slot(request);
      if (key !== undefined) drop(key);
    },
  };
}
