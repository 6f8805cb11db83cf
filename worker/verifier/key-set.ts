/**
 * The signer's public keys as the verifier holds them: fetched from its JWKS, replaced
 * only by another usable set (a bad or empty JWKS, or a signer that is down, keeps the
 * last good one). A token whose kid is unknown triggers one more fetch, at most once per
 * UNKNOWN_KID_REFETCH however many such tokens arrive, so a rotation at the signer is
 * picked up at once and random kids cannot make the verifier hammer the signer.
 */
import { importPublicKeys, type PublicKeyEntry } from "../tokens/public-keys.js";
import { createVerifier, type Verifier } from "../tokens/verify.js";

export interface KeySetStatus {
  kids: string[];
  /** When the set in use was fetched (ms), undefined before the first. */
  fetchedAt: number | undefined;
  fetches: number;
  lastError: string | undefined;
}

export interface KeySet {
  /** Checks with the current keys; a miss on an unknown kid may fetch the JWKS once and check again. */
  verifier: Verifier;
  /** Fetches the JWKS now; true when a new set is in use. */
  refresh(nowMs: number): Promise<{ ok: boolean; maxAgeMs?: number | undefined }>;
  /** The JWT's issuer/audience come with the check policy, which can change. */
  setClaims(claims: { issuer: string; audience: string[] }): void;
  status(): KeySetStatus;
}

export function createKeySet(options: {
  fetchJwks: () => Promise<{ ok: true; body: unknown; maxAgeMs: number | undefined } | { ok: false; error: string }>;
  unknownKidRefetchMs: number;
  cacheMaxEntries: number;
}): KeySet {
  let entries: PublicKeyEntry[] = [];
  let claims: { issuer: string; audience: string[] } | undefined;
  let current: Verifier | undefined;
  let fetchedAt: number | undefined;
  let fetches = 0;
  let lastError: string | undefined;
  let lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  let unknownKidFetch: Promise<boolean> | undefined;
  let version = 0;

  const rebuild = () => {
    // A new verifier also starts a new verified-token cache: nothing checked with a key that was dropped survives.
    current = claims && entries.length ? createVerifier({ accepted: entries }, { ...claims, cacheMaxEntries: options.cacheMaxEntries }) : undefined;
    version++;
  };

  async function refresh(now: number): Promise<{ ok: boolean; maxAgeMs?: number | undefined }> {
    fetches++;
    const document = await options.fetchJwks();
    if (!document.ok) {
      lastError = document.error;
      return { ok: false };
    }
    try {
      const next = await importPublicKeys(document.body);
      const changed = next.map((e) => e.kid).join() !== entries.map((e) => e.kid).join();
      entries = next;
      fetchedAt = now;
      lastError = undefined;
      if (changed || !current) rebuild();
      return { ok: true, maxAgeMs: document.maxAgeMs };
    } catch (error) {
      lastError = `JWKS refused, last good keys kept: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false };
    }
  }

  function refetchForUnknownKid(now: number): Promise<boolean> {
    if (unknownKidFetch) return unknownKidFetch;
    if (now - lastUnknownKidFetch < options.unknownKidRefetchMs) return Promise.resolve(false);
    lastUnknownKidFetch = now;
    const before = current;
    unknownKidFetch = refresh(now)
      .then(() => current !== before)
      .finally(() => (unknownKidFetch = undefined));
    return unknownKidFetch;
  }

  return {
    verifier: {
      keysVersion: () => version,
      async verify(token, now) {
        if (!current) return { ok: false, reason: "unknown_key" };
        const result = await current.verify(token, now);
        if (result.ok || result.reason !== "unknown_key") return result;
        return (await refetchForUnknownKid(now)) && current ? current.verify(token, now) : result;
      },
    },
    refresh,
    setClaims(next) {
      if (claims && claims.issuer === next.issuer && claims.audience.join("\n") === next.audience.join("\n")) return;
      claims = next;
      rebuild();
    },
    status: () => ({ kids: entries.map((e) => e.kid), fetchedAt, fetches, lastError }),
  };
}
