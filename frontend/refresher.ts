/**
 * The background refresher: finds Home Assistant's `hass`, trades a fresh access token for
 * the signer's cookie, and keeps that cookie fresh while Home Assistant is open. No Lit, no
 * DOM beyond events; it never throws into Home Assistant and stays quiet unless something
 * is misconfigured (one console line per kind of problem).
 *
 * When: once per page load (deferred until the page is idle), again at 70-80 % of the
 * cookie's lifetime, when the tab becomes visible / the device comes back online / Home
 * Assistant's WebSocket reconnects (if a renewal is due or the last one failed), and after
 * failures with exponential backoff and jitter. One renewal at a time across tabs: Web Locks
 * serialise them and a BroadcastChannel shares each result, so other tabs just reschedule.
 *
 * The cookie follows the Home Assistant session: Home Assistant's logout (logout-watch.ts), a
 * refresh token Home Assistant no longer honours (revoked, user deactivated) and a fresh token
 * the signer refuses all end it at once, in every tab, through the signer's POST /logout, which
 * also revokes it at /verify. Transient failures (network, 5xx, timeouts) only back off.
 */
import { watchLogout } from "./logout-watch.js";
import { createSession, logout, normalizeSignerUrl, SignerError, type SessionResponse, type SessionUser } from "./signer-client.js";
import { NO_SIGNER } from "./signer-url.js";

/** The parts of home-assistant-js-websocket's Auth (or the apps' ExternalAuth) we use. */
export interface AuthLike {
  readonly accessToken: string;
  readonly expired: boolean;
  data?: { expires?: number };
  refreshAccessToken(force?: boolean): Promise<void>;
}

export interface ConnectionLike {
  addEventListener(event: string, callback: () => void): void;
}

export interface HassLike {
  auth: AuthLike;
  connection?: ConnectionLike;
  user?: { id: string; name: string; is_admin?: boolean; is_owner?: boolean };
}

/**
 * Where the signer URL came from; a higher one wins: panel config > ?signer= > module origin >
 * the panel's config remembered from an earlier visit (so a copy loaded as a dashboard
 * resource, with no ?signer=, still works once the panel has been opened).
 */
export type SignerSource = "stored" | "origin" | "query" | "panel";
const PRIORITY: Record<SignerSource, number> = { stored: 0, origin: 1, query: 2, panel: 3 };
const STORAGE_KEY = "jwt-cookie:signer";

export type Phase = "starting" | "no_hass" | "no_signer" | "renewing" | "signed_in" | "error" | "signed_out";

export interface Session {
  user: SessionUser;
  roles: string[];
  /** ms, the signer's clock (the JWT's exp). */
  expiresAt: number;
  /** ms, this browser's clock. */
  renewedAt: number;
  /** ms, this browser's clock: when the next renewal is planned. */
  renewAt: number;
  cookie: SessionResponse["cookie"];
}

export interface RefresherError {
  code: string;
  message: string;
  status: number;
  at: number;
  /** No automatic retry: only "Renew now" or a reload tries again. */
  fatal: boolean;
}

export interface RefresherState {
  phase: Phase;
  signer?: string;
  signerSource?: SignerSource;
  session?: Session;
  error?: RefresherError;
  /** Consecutive failures (drives the backoff). */
  failures: number;
  /** ms: when the refresher will try again on its own. */
  nextAttemptAt?: number;
  signedOut?: { reason: string; message?: string; at: number };
}

export interface Refresher {
  readonly state: RefresherState;
  subscribe(listener: (state: RefresherState) => void): () => void;
  offerSigner(url: string | undefined, source: SignerSource): void;
  /** The panel hands over the hass it was given (the background module finds its own). */
  useHass(hass: HassLike | undefined): void;
  start(): void;
  /** "Renew now": also clears a fatal error or a sign-out. */
  renew(): Promise<void>;
  /**
   * Clears the cookie (and revokes it at /verify) in every tab and stops renewing until renew()
   * or a reload. reason: user, ha_logout, revoked, token_rejected, user_inactive.
   */
  signOut(reason: string, message?: string): Promise<void>;
}

const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** Look for hass this long after load; pages without it (login, onboarding) just stay idle. */
const HASS_WAIT_MS = 60_000;
/** Renew the Home Assistant token first when it has less than this left. */
const TOKEN_MARGIN_MS = 30_000;
/**
 * Home Assistant's token refresh (or the app's) has no timeout of its own; one that never
 * answers must not hold the lock, and so every tab's renewals, forever.
 */
const TOKEN_REFRESH_TIMEOUT_MS = 15_000;

const LOGGED_OUT = "You logged out of Home Assistant.";

/** No automatic retry: retrying cannot fix these. */
const FATAL = ["origin_not_allowed", "user_local_only", "malformed_token", "bad_authorization", "missing_token"];
/** Home Assistant will not let this browser renew any more: the session is over (see end()). */
const ENDS = ["revoked", "token_rejected", "user_inactive"];

/** The one console line for each kind of misconfiguration, with what to do about it. */
function advice(error: { code: string; message: string }, signer: string): string | undefined {
  const fix: Record<string, string> = {
    origin_not_allowed: `add ${location.origin} to its ALLOWED_ORIGINS`,
    token_rejected: "Home Assistant rejected a fresh token: make sure its HA_URL is this Home Assistant",
    misconfigured: error.message,
    missing_token: "a proxy in front of it strips the Authorization header",
  };
  const text = fix[error.code];
  return text && `The signer at ${signer}: ${text}.`;
}

/** Any failure as a SignerError. */
function asSignerError(error: unknown): SignerError {
  return error instanceof SignerError ? error : new SignerError("internal", error instanceof Error ? error.message : String(error));
}

/** What the panel shows of a failure. */
function record(error: SignerError, fatal: boolean, prefix = ""): RefresherError {
  return { code: error.code, message: prefix + error.message, status: error.status, at: Date.now(), fatal };
}

function jittered(ms: number): number {
  return ms * (0.5 + Math.random() * 0.5);
}

function whenIdle(run: () => void): void {
  const idle = () => {
    if ("requestIdleCallback" in self) requestIdleCallback(() => run(), { timeout: 2_000 });
    else setTimeout(run, 200);
  };
  if (document.readyState === "complete") idle();
  else addEventListener("load", idle, { once: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Home Assistant's hass as an extra_module_url script can reach it. */
async function findHass(): Promise<HassLike | undefined> {
  const element = document.querySelector("home-assistant") as { hass?: HassLike } | null;
  if (element?.hass?.auth) return element.hass;
  try {
    const { auth, conn } = (await (window as { hassConnection?: Promise<{ auth?: AuthLike; conn?: ConnectionLike }> }).hassConnection) ?? {};
    if (auth) return { auth, connection: conn };
  } catch {
    // Home Assistant could not connect (yet)
  }
  return undefined;
}

/** When to renew: 70-80 % into the cookie's lifetime, measured as well as the signer lets us. */
function toSession(body: SessionResponse, receivedAt: number): Session {
  const expiresAt = body.expires_at * 1000;
  let remaining = expiresAt - receivedAt;
  if (typeof body.issued_at === "number") remaining = (body.expires_at - body.issued_at) * 1000;
  else if (typeof body.server_time === "number") remaining = expiresAt - body.server_time * 1000;
  remaining = Math.min(Math.max(remaining, 20_000), 86_400_000);
  return {
    user: body.user,
    roles: Array.isArray(body.roles) ? body.roles : [],
    expiresAt,
    renewedAt: receivedAt,
    renewAt: receivedAt + remaining * (0.7 + Math.random() * 0.1),
    cookie: body.cookie,
  };
}

export function createRefresher(): Refresher {
  let state: RefresherState = { phase: "starting", failures: 0 };
  const listeners = new Set<(state: RefresherState) => void>();
  const offers = new Map<SignerSource, string>();
  const warned = new Set<string>();
  const watched = new WeakSet<object>();
  let hass: HassLike | undefined;
  let started = false;
  let booted = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  /** Bumped by a sign-out so that a renewal already under way cannot resurrect the session. */
  let generation = 0;
  /** The user of this page's own latest session (another tab may sign in someone else). */
  let mine: string | undefined;
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("jwt-cookie") : undefined;

  function set(patch: Partial<RefresherState>): void {
    state = { ...state, ...patch };
    listeners.forEach(notify);
  }

  function notify(listener: (state: RefresherState) => void): void {
    try {
      listener(state);
    } catch {
      // a listener's bug is not ours to throw into Home Assistant
    }
  }

  function warnOnce(key: string, message: string): void {
    if (warned.has(key)) return;
    warned.add(key);
    console.warn(`[jwt-cookie] ${message}`);
  }

  function schedule(at: number | undefined): void {
    clearTimeout(timer);
    timer = undefined;
    if (at === undefined) return;
    // A delay already past runs at once; setTimeout cannot wait longer than 2^31 - 1 ms.
    timer = setTimeout(() => void after("timer"), Math.min(at - Date.now(), 2_000_000_000));
  }

  /** Refresh once any renewal under way has finished, so that it cannot swallow this one. */
  function after(reason: string): Promise<void> {
    return (inFlight ?? Promise.resolve()).then(() => refresh(reason));
  }

  async function exclusive(task: () => Promise<void>): Promise<void> {
    const locks = (navigator as { locks?: LockManager }).locks;
    if (!locks?.request) return task();
    await locks.request(`jwt-cookie:${state.signer ?? ""}`, task);
  }

  function watch(connection: ConnectionLike | undefined): void {
    if (!connection?.addEventListener || watched.has(connection)) return;
    watched.add(connection);
    connection.addEventListener("ready", () => check("reconnect"));
  }

  async function currentAuth(): Promise<AuthLike | undefined> {
    const found = hass ?? (await findHass());
    watch(found?.connection);
    return found?.auth;
  }

  function succeed(body: SessionResponse, gen: number, receivedAt?: number): void {
    // The session ended while this renewal was under way, whose answer has just set the cookie again.
    if (gen !== generation) return void (state.phase == "signed_out" && clear());
    const share = receivedAt === undefined;
    if (share) mine = body.user.id;
    const session = toSession(body, receivedAt ?? Date.now());
    set({ phase: "signed_in", session, error: undefined, failures: 0, nextAttemptAt: session.renewAt, signedOut: undefined });
    schedule(session.renewAt);
    if (share) channel?.postMessage({ type: "session", signer: state.signer, body, receivedAt: session.renewedAt });
  }

  function fail(error: unknown, gen: number): void {
    if (gen !== generation) return;
    const signerError = asSignerError(error);
    const line = state.signer && advice(signerError, state.signer);
    if (line) warnOnce(signerError.code, line);
    if (ENDS.includes(signerError.code)) return void end(signerError.code, signerError.message);
    const failures = state.failures + 1;
    const fatal = FATAL.includes(signerError.code);
    const delay = jittered(signerError.code === "misconfigured" ? BACKOFF_MAX_MS : Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1)));
    const nextAttemptAt = fatal ? undefined : Date.now() + Math.max(delay, (signerError.retryAfter ?? 0) * 1000);
    // A session that is still valid stays on show: the cookie keeps working until it expires.
    const session = state.session && state.session.expiresAt > Date.now() ? state.session : undefined;
    set({ phase: "error", error: record(signerError, fatal), failures, nextAttemptAt, session });
    schedule(nextAttemptAt);
    if (signerError.code === "unreachable" && failures >= 3) {
      warnOnce("unreachable", `No answer from the signer at ${state.signer} after ${failures} tries: is it running, and does ALLOWED_ORIGINS include ${location.origin}?`);
    }
  }

  async function attempt(reason: string, gen: number): Promise<void> {
    const signer = state.signer;
    if (!signer || gen !== generation) return;
    // Another tab may have renewed while we waited for the lock (its result arrives by broadcast).
    if (!/start|manual|signer/.test(reason) && state.phase === "signed_in" && state.session && Date.now() < state.session.renewAt) {
      schedule(state.session.renewAt);
      return;
    }
    const auth = await currentAuth();
    if (!auth) {
      set({ phase: "no_hass" });
      return;
    }
    set({ phase: "renewing" });
    /**
     * Never an expired token, and after page load always one Home Assistant (or the app) has just
     * renewed: so a revoked refresh token or a deactivated user shows here, in this browser,
     * instead of as a rejected token that the signer would forward to Home Assistant (a failed
     * login there) or still accept from its cache for up to HA_ANSWER_MAX_AGE. On page load Home Assistant's
     * WebSocket has just accepted the token. In the apps, ExternalAuth asks the app; without
     * `force` it never interrupts a renewal that Home Assistant's own frontend has asked for.
     */
    const token = async (force?: boolean) => {
      if (force || reason != "start" || auth.expired || (auth.data?.expires ?? 0) - Date.now() < TOKEN_MARGIN_MS) {
        await Promise.race([auth.refreshAccessToken(force), sleep(TOKEN_REFRESH_TIMEOUT_MS)]).catch((error: unknown) => {
          // home-assistant-js-websocket's ERR_INVALID_AUTH: 400 invalid_grant (refresh token revoked) or 403 (user not active).
          if (error === 2) throw new SignerError("revoked", "Home Assistant ended your session (revoked, or your user deactivated).");
        });
      }
      // Anything else is transient (network, 5xx, the app, no answer in time); a token that is still valid will do.
      if (auth.expired) throw new SignerError("ha_auth", "Home Assistant did not renew the access token.");
      return auth.accessToken;
    };
    try {
      let body: SessionResponse;
      try {
        body = await createSession(signer, await token());
      } catch (error) {
        // The signer's clock says our fresh token expired: ask for a brand-new one, once.
        if (!(error instanceof SignerError) || error.code !== "token_expired") throw error;
        body = await createSession(signer, await token(true));
      }
      succeed(body, gen);
    } catch (error) {
      fail(error, gen);
    }
    // Hold the lock a moment, so a tab waiting for it has our broadcast (the new session, or the end
    // of this one) before it decides: otherwise it would try the revoked session again.
    if (channel) await sleep(100);
  }

  function refresh(reason: string): Promise<void> {
    if (inFlight) return inFlight;
    // Signed out (Home Assistant's logout may come before the first renewal): only "Renew now" signs in again.
    if (!booted || !state.signer || (state.phase == "signed_out" && reason != "manual")) return Promise.resolve();
    const gen = generation;
    schedule(undefined);
    inFlight = exclusive(() => attempt(reason, gen))
      .catch((error: unknown) => fail(error, gen))
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  /** Visible again, back online, or Home Assistant reconnected: renew if due or if the last try failed. */
  function check(reason: string): void {
    try {
      if (!booted || inFlight || state.phase === "signed_out" || state.error?.fatal) return;
      const now = Date.now();
      const due = !state.session || now >= state.session.renewAt || state.phase === "error";
      const waitedEnough = state.phase !== "error" || reason !== "visible" || (state.nextAttemptAt ?? 0) <= now;
      if (due && waitedEnough) void refresh(reason);
    } catch {
      // never into Home Assistant
    }
  }

  function effectiveSigner(): { url?: string; source?: SignerSource } {
    let best: SignerSource | undefined;
    for (const source of offers.keys()) if (!best || PRIORITY[source] > PRIORITY[best]) best = source;
    return best ? { url: offers.get(best), source: best } : {};
  }

  async function boot(): Promise<void> {
    addEventListener("online", () => check("online"));
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && check("visible"));
    let found: AuthLike | undefined;
    for (let waited = 0, step = 100; waited < HASS_WAIT_MS; waited += step, step = Math.min(step * 2, 2_000)) {
      found = await currentAuth();
      if (found) break;
      await sleep(step);
    }
    if (!found) {
      set({ phase: "no_hass" });
      return;
    }
    booted = true;
    if (!state.signer) {
      set({ phase: "no_signer" });
      // The panel may still be about to hand over config.signer_url.
      await sleep(5_000);
      if (!state.signer) {
        warnOnce("no_signer", NO_SIGNER);
      }
      return;
    }
    await refresh("start");
  }

  if (channel) {
    channel.onmessage = (event: MessageEvent) => {
      try {
        const message = event.data as { type?: string; signer?: string; body?: SessionResponse; receivedAt?: number; reason?: string; message?: string };
        if (!message || message.signer !== state.signer) return;
        const body = message.body;
        if (message.type === "session" && body) {
          // Another user signed in on this device: this page's Home Assistant session is over.
          if (mine && body.user.id !== mine) return applySignOut("ha_logout", LOGGED_OUT);
          // A page whose Home Assistant session ended stays out (a renewal would fail and clear the new cookie).
          if ((state.phase == "signed_out" && state.signedOut?.reason != "user") || (state.session && state.session.expiresAt > body.expires_at * 1000)) return;
          succeed(body, generation, typeof message.receivedAt === "number" ? Math.min(message.receivedAt, Date.now()) : Date.now());
        } else if (message.type === "signed_out" && message.reason) {
          applySignOut(message.reason, message.message);
        }
      } catch {
        // ignore foreign messages
      }
    };
  }

  function applySignOut(reason: string, message?: string): void {
    generation++;
    schedule(undefined);
    set({ phase: "signed_out", session: undefined, error: undefined, failures: 0, nextAttemptAt: undefined, signedOut: { reason, message, at: Date.now() } });
  }

  /**
   * Ends the session in every tab and clears the cookie at once, without waiting for a lock or a
   * renewal under way: the page may be about to go away (Home Assistant's logout). A renewal under
   * way in any tab clears the cookie again when its answer arrives (succeed()).
   */
  function end(reason: string, message?: string): Promise<void> {
    applySignOut(reason, message);
    channel?.postMessage({ type: "signed_out", signer: state.signer, reason, message });
    return clear();
  }

  async function clear(): Promise<void> {
    const signer = state.signer;
    if (!signer) return;
    try {
      await logout(signer);
    } catch (error) {
      set({ error: record(asSignerError(error), true, "The cookie could not be cleared: ") });
    }
  }

  return {
    get state() {
      return state;
    },
    subscribe(listener) {
      notify(listener);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    offerSigner(url, source) {
      if (url) offers.set(source, url);
      if (url && source === "panel") {
        try {
          localStorage.setItem(STORAGE_KEY, url);
        } catch {
          // storage disabled: the panel's setting still applies on this page
        }
      }
      const { url: signer, source: signerSource } = effectiveSigner();
      if (signer === state.signer) return;
      set({ signer, signerSource, session: undefined, error: undefined, failures: 0 });
      if (booted && state.phase !== "signed_out") void after("signer");
    },
    useHass(next) {
      if (!next?.auth) return;
      hass = next;
      watch(next.connection);
    },
    start() {
      if (started) return;
      started = true;
      watchLogout(() => void end("ha_logout", LOGGED_OUT));
      try {
        this.offerSigner(normalizeSignerUrl(localStorage.getItem(STORAGE_KEY)), "stored");
      } catch {
        // no storage, no memory
      }
      whenIdle(() => void boot().catch(() => undefined));
    },
    async renew() {
      if (!booted) return;
      if (state.phase === "signed_out") set({ signedOut: undefined });
      await after("manual");
    },
    signOut: end,
  };
}
