/**
 * Issues session JWTs. A browser (or several tabs, or the panel and the background module)
 * may ask again with the same Home Assistant token within seconds: for a short while the
 * JWT issued a moment ago is handed out again instead of signing a new one, as long as it
 * is for the same user and has not been revoked. The window is at most a tenth of the
 * lifetime and 60 s, so a reused cookie is never more than that shorter than a fresh one.
 */
import { BoundedCache } from "../bounded-cache.js";
import type { Settings } from "../config.js";
import type { KeyRing } from "./keys.js";
import type { RevocationList } from "./revocation-list.js";
import { sessionClaims, signJwt, type SessionClaims, type SessionIdentity } from "./sign.js";

export interface IssuedSession {
  jwt: string;
  claims: SessionClaims;
}

export interface SessionIssuer {
  /** `requestKey` identifies what the session was issued for (the Home Assistant token). */
  issue(requestKey: string, user: SessionIdentity, nowMs: number): Promise<IssuedSession>;
}

export function createSessionIssuer(keys: KeyRing, settings: Settings, revocations: RevocationList): SessionIssuer {
  const reuseMs = Math.min(60_000, (settings.tokenTtl * 1000) / 10);
  const recent = new BoundedCache<string, IssuedSession>(settings.cacheMaxEntries);
  return {
    async issue(requestKey, user, now) {
      const previous = recent.get(requestKey, now);
      if (
        previous &&
        previous.claims.sub === user.id &&
        previous.claims.name === user.name &&
        !(await revocations.isRevoked(previous.claims.jti, now))
      ) {
        return previous;
      }
      const claims = sessionClaims(user, { ...settings.jwt, ttl: settings.tokenTtl, now });
      const session = { jwt: await signJwt(keys, claims), claims };
      recent.set(requestKey, session, now + reuseMs);
      return session;
    },
  };
}
