/**
 * The local verifier's runtime: the check policy, public keys and deny-list copy it learns
 * from the signer, refreshed on timers. It holds no private key and never talks to Home
 * Assistant: everything it knows comes from the signer's public documents
 * (checking/check-policy-document.ts). Ready once it has the policy, the keys and one full
 * copy of the deny-list; until then /verify answers 503, never a guess.
 */
import { CHECK_POLICY_PATH, JWKS_PATH, parseCheckPolicyDocument, REVOCATIONS_PATH, type VerifierPolicy } from "../checking/check-policy-document.js";
import { createRememberedApprovals } from "../checking/remembered-approvals.js";
import { describeProblems, type VerifierSettings } from "../config.js";
import type { CheckRuntime } from "../routes/verify.js";
import { createKeySet } from "./key-set.js";
import { createRevocationCopy } from "./revocation-copy.js";
import { fetchSignerDocument, type FetchLike } from "./signer-fetch.js";

/** The fastest a signer's Cache-Control may make us refresh keys and policy. */
const MIN_REFRESH_MS = 10_000;
/** How soon a failed refresh is tried again (keys and policy; the feed keeps its own interval). */
const RETRY_MS = 2_000;

export interface VerifierHealth {
  status: "ok" | "starting" | "degraded";
  signer_url: string;
  sign_in_url: string | undefined;
  signer_reachable: boolean;
  last_error: string | null;
  keys: { kids: string[]; age_seconds: number | null; fetches: number };
  policy_age_seconds: number | null;
  revocations: { entries: number; age_seconds: number | null; polls: number; poll_interval_ms: number };
  /** PROXY_APPROVAL_CACHE: how long nginx may reuse an approval, so a sign-out reaches it within poll_interval_ms plus this. */
  proxy_approval_cache_seconds: number;
  warnings: string[];
}

export interface VerifierRuntime {
  /** What /verify checks with, once ready. */
  current(): CheckRuntime | undefined;
  health(nowMs: number): VerifierHealth;
  /** Loads everything once and starts the timers. */
  start(): void;
  stop(): void;
}

export function createVerifierRuntime(settings: VerifierSettings, fetchImpl: FetchLike = (input, init) => fetch(input, init)): VerifierRuntime {
  // Whether the last request to the signer got an HTTP answer at all.
  let reachable = false;
  const fetcher: FetchLike = async (input, init) => {
    try {
      const response = await fetchImpl(input, init);
      reachable = true;
      return response;
    } catch (error) {
      reachable = false;
      throw error;
    }
  };
  const at = (path: string) => `${settings.signerUrl}${path}`;
  const keys = createKeySet({
    fetchJwks: () => fetchSignerDocument(fetcher, at(JWKS_PATH)),
    unknownKidRefetchMs: settings.unknownKidRefetchMs,
    cacheMaxEntries: settings.cacheMaxEntries,
  });
  const revocations = createRevocationCopy({
    fetchPage: (cursor) => fetchSignerDocument(fetcher, at(`${REVOCATIONS_PATH}${cursor ? `?since=${encodeURIComponent(cursor)}` : ""}`)),
    maxEntries: settings.cacheMaxEntries,
  });
  // One memory across re-publications: it forgets by itself when keys, policy or deny-list change.
  const approvals = createRememberedApprovals(settings.cacheMaxEntries);
  let policy: VerifierPolicy | undefined;
  let policyAt: number | undefined;
  let policyError: string | undefined;
  let feedSynced = false;
  let runtime: CheckRuntime | undefined;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;

  const later = (ms: number, run: () => Promise<void>) => {
    if (stopped) return undefined;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void run();
    }, ms);
    timers.add(timer);
    return timer;
  };

  const signerOrigin = new URL(settings.signerUrl).origin;
  function publish(): void {
    if (!policy || !keys.status().kids.length || !feedSynced) return;
    // Without a PUBLIC_URL the signer sends browsers to the origin it was reached at; so do we.
    runtime = {
      settings: policy,
      verifier: keys.verifier,
      revocations,
      approvals,
      signInOrigin: policy.publicUrl ?? signerOrigin,
      proxyApprovalCacheSeconds: settings.proxyApprovalCacheSeconds,
    };
  }

  async function refreshPolicy(now: number): Promise<{ ok: boolean; maxAgeMs?: number | undefined }> {
    const document = await fetchSignerDocument(fetcher, at(CHECK_POLICY_PATH));
    if (!document.ok) {
      policyError = document.error;
      return { ok: false };
    }
    const parsed = parseCheckPolicyDocument(document.body);
    if (!parsed.ok) {
      policyError = `check policy refused, last good one kept: ${describeProblems(parsed.problems)}`;
      return { ok: false };
    }
    policy = parsed.policy;
    policyAt = now;
    policyError = undefined;
    keys.setClaims(policy.jwt);
    return { ok: true, maxAgeMs: document.maxAgeMs };
  }

  let refreshing: Promise<void> | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  function refreshKeysAndPolicy(): Promise<void> {
    refreshing ??= (async () => {
      const now = Date.now();
      const fromPolicy = await refreshPolicy(now);
      const fromKeys = await keys.refresh(now);
      publish();
      const ok = fromPolicy.ok && fromKeys.ok;
      const asked = Math.min(fromPolicy.maxAgeMs ?? settings.keysRefreshMs, fromKeys.maxAgeMs ?? settings.keysRefreshMs);
      if (refreshTimer) {
        clearTimeout(refreshTimer);
        timers.delete(refreshTimer);
      }
      refreshTimer = later(ok ? Math.min(settings.keysRefreshMs, Math.max(MIN_REFRESH_MS, asked)) : Math.min(RETRY_MS, settings.keysRefreshMs), refreshKeysAndPolicy);
    })().finally(() => (refreshing = undefined));
    return refreshing;
  }

  async function pollRevocations(): Promise<void> {
    if (await revocations.poll(Date.now())) {
      feedSynced = true;
      publish();
      // The signer answers again after a failed key fetch (e.g. for an unknown kid): catch up now, not at the next refresh.
      if (keys.status().lastError !== undefined || policyError !== undefined) void refreshKeysAndPolicy();
    }
    later(settings.revocationsPollMs, pollRevocations);
  }

  return {
    current: () => runtime,
    start() {
      void refreshKeysAndPolicy();
      void pollRevocations();
    },
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
    health(now) {
      const k = keys.status();
      const r = revocations.status();
      const age = (t: number | undefined) => (t === undefined ? null : Math.round((now - t) / 1000));
      const lastError = policyError ?? k.lastError ?? r.lastError ?? null;
      const warnings: string[] = [];
      if (policy && policy.publicUrl === undefined) {
        warnings.push(`The signer has no PUBLIC_URL: browsers are sent to ${signerOrigin}/login, which must be reachable from them. Set PUBLIC_URL on the signer.`);
      }
      return {
        status: !runtime ? "starting" : lastError ? "degraded" : "ok",
        signer_url: settings.signerUrl,
        sign_in_url: runtime ? `${runtime.signInOrigin}/login` : undefined,
        signer_reachable: reachable,
        last_error: lastError,
        keys: { kids: k.kids, age_seconds: age(k.fetchedAt), fetches: k.fetches },
        policy_age_seconds: age(policyAt),
        revocations: { entries: r.entries, age_seconds: age(r.syncedAt), polls: r.polls, poll_interval_ms: settings.revocationsPollMs },
        proxy_approval_cache_seconds: settings.proxyApprovalCacheSeconds,
        warnings,
      };
    },
  };
}
