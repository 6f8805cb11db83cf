/**
 * Everything a request needs, built once per configuration: validated settings, the key
 * ring, the verifier and the caches. A configuration that does not validate, or whose key
 * does not import, gives no runtime at all, so nothing can ever be signed with it.
 */
import type { Context } from "hono";
import { createRememberedApprovals, type RememberedApprovals } from "./checking/remembered-approvals.js";
import { describeProblems, loadBindings, loadSettings, type Env, type Platform, type Settings } from "./config.js";
import { createAccessTokenPrecheck, type AccessTokenPrecheck } from "./home-assistant/access-token-precheck.js";
import { createBanGuard, type BanGuard } from "./home-assistant/ban-guard.js";
import { fetchCurrentUser, type HomeAssistantUser } from "./home-assistant/current-user.js";
import { createIdentityLookup, type IdentityLookup } from "./home-assistant/identity-lookup.js";
import { createServiceCredential } from "./home-assistant/service-credential.js";
import { createUserDirectory, type UserDirectory } from "./home-assistant/user-directory.js";
import { createRateLimiter, type RateLimiter } from "./http/rate-limit.js";
import { createHaSessionIndex, type HaSessionIndex } from "./tokens/ha-session-index.js";
import { importKeyRing, KeyError, type KeyRing } from "./tokens/keys.js";
import type { RevokedSession } from "./tokens/revocation-feed.js";
import { kvRevocationList, memoryRevocationList, type RevocationList, type RevocationStore } from "./tokens/revocation-list.js";
import { createSessionIssuer, type SessionIssuer } from "./tokens/session-issuer.js";
import { createVerifier, type Verifier } from "./tokens/verify.js";

export interface Runtime {
  settings: Settings;
  keys: KeyRing;
  verifier: Verifier;
  /** The local check of a Home Assistant access token before anything is sent there. */
  accessTokens: AccessTokenPrecheck;
  identity: IdentityLookup;
  /** Everything that authenticates at Home Assistant goes through it (ip_ban protection). */
  banGuard: BanGuard;
  /** local_only / active, from Home Assistant's user list (needs an administrator's HA_TOKEN). */
  userDirectory: UserDirectory;
  rateLimiter: RateLimiter;
  revocations: RevocationList;
  /** THE check's allowed answers, remembered for /verify and the gate (checking/remembered-approvals.ts). */
  approvals: RememberedApprovals;
  sessions: SessionIssuer;
  haSessions: HaSessionIndex;
}

export type RuntimeResult = { ok: true; runtime: Runtime } | { ok: false; message: string };

export interface AppEnv {
  Bindings: Env;
  Variables: { runtime: Runtime };
}

/** How the host platform tells us who is calling (CF-Connecting-IP, the socket, ...). */
export type ClientAddress = (c: Context<AppEnv>) => string;

export interface RuntimeOptions {
  /** Where the app runs; the gate (GATED_HOSTS) exists on Workers only. Default "workers". */
  platform?: Platform;
  /** Replaces the WebSocket exchange; only the in-process benchmark uses it. */
  fetchUser?: (settings: Settings, token: string) => Promise<HomeAssistantUser>;
  /** Durable deny-list for the memory list (the Node entry's DATA_DIR file) and what it held at start. */
  revocationStore?: { store: RevocationStore; restored: RevokedSession[] };
}

export async function buildRuntime(env: Env, options: RuntimeOptions = {}): Promise<RuntimeResult> {
  const loaded = loadSettings(env, options.platform ?? "workers");
  if (!loaded.ok) return { ok: false, message: `Configuration is invalid: ${describeProblems(loaded.problems)}` };
  const { settings } = loaded;
  let keys: KeyRing;
  try {
    keys = await importKeyRing(settings.signingKey, settings.previousPublicKeys);
  } catch (error) {
    const message = error instanceof KeyError ? error.message : "SIGNING_KEY could not be imported: create a new one with npm run keygen.";
    return { ok: false, message: `Configuration is invalid: ${message}` };
  }
  const { revokedSessions } = loadBindings(env);
  const revocations = revokedSessions
    ? kvRevocationList(revokedSessions, settings.cacheMaxEntries)
    : memoryRevocationList(settings.cacheMaxEntries, options.revocationStore ?? {});
  const fetchUser = options.fetchUser ?? ((s: Settings, token: string) => fetchCurrentUser(s.haWebSocketUrl, token, s.haTimeoutMs));
  const { serviceToken, loginAttemptsThreshold, rejectionsPerClient, rejectionWindowSeconds } = settings.haGuard;
  const banGuard = createBanGuard({
    threshold: loginAttemptsThreshold,
    rejectionsPerClient,
    clientWindowSeconds: rejectionWindowSeconds,
    maxClients: settings.cacheMaxEntries,
    queueWaitMs: settings.haTimeoutMs,
    credential: serviceToken ? createServiceCredential(settings.haWebSocketUrl, serviceToken, settings.haTimeoutMs) : undefined,
  });
  const userDirectory = createUserDirectory(serviceToken ? banGuard : undefined, { required: settings.localOnlyCheck });
  return {
    ok: true,
    runtime: {
      settings,
      keys,
      verifier: createVerifier(keys, { ...settings.jwt, cacheMaxEntries: settings.cacheMaxEntries }),
      accessTokens: createAccessTokenPrecheck(settings.cacheMaxEntries),
      identity: createIdentityLookup({
        fetchUser: async (token, context) => {
          const user = await banGuard.forward(context ?? { client: "unknown", trusted: false }, () => fetchUser(settings, token));
          await userDirectory.admit(user.id);
          return user;
        },
        maxEntries: settings.cacheMaxEntries,
        maxAnswerAgeSeconds: settings.haAnswerMaxAgeSeconds,
      }),
      banGuard,
      userDirectory,
      rateLimiter: createRateLimiter(settings.rateLimitPerMinute, settings.cacheMaxEntries),
      revocations,
      approvals: createRememberedApprovals(settings.cacheMaxEntries),
      sessions: createSessionIssuer(keys, settings, revocations),
      haSessions: createHaSessionIndex(revocations, settings.cacheMaxEntries),
    },
  };
}
