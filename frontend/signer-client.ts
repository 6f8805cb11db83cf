/**
 * The only code that talks to the signer: POST /session, GET /session, POST /logout and a
 * reachability probe. Every failure becomes a SignerError with the signer's own error code
 * (or "unreachable" / "timeout" / "bad_response" when the signer's answer never arrived).
 */

export interface SessionUser {
  id: string;
  name: string;
  is_admin: boolean;
  is_owner: boolean;
}

/** POST /session's answer. `issued_at` / `server_time` / `cookie.secure` are used when a signer sends them. */
export interface SessionResponse {
  user: SessionUser;
  roles: string[];
  expires_at: number;
  issued_at?: number;
  server_time?: number;
  cookie: { name: string; domain: string | null; secure?: boolean };
}

/** GET /session's answer: did our cookie arrive, and is it valid? Never the cookie itself. */
export interface SessionStatus {
  server_time: number;
  cookie_name: string;
  present: boolean;
  valid: boolean;
  reason?: string;
  expires_at?: number;
  issued_at?: number;
  claims?: { sub: string; name: string; roles: string[] };
  /** What stops sign-ins at the signer (ban guard, local-only check), in words. */
  notices?: string[];
}

export interface TimedStatus {
  status: SessionStatus;
  /** Browser time (ms) half-way through the request, to compare with status.server_time. */
  midpoint: number;
  rtt: number;
}

export class SignerError extends Error {
  constructor(
    /** The signer's error code, or unreachable | timeout | bad_response. */
    readonly code: string,
    message: string,
    /** HTTP status; 0 when no answer was readable. */
    readonly status = 0,
    /** Seconds, from Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 15_000;

/** "https://auth.example.com/" -> "https://auth.example.com"; undefined for anything but an http(s) URL. */
export function normalizeSignerUrl(value: unknown): string | undefined {
  try {
    // null, undefined, "" and every other non-URL throw here.
    const url = new URL(String(value).trim());
    if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return undefined;
  }
}

async function request(url: string, init: RequestInit): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, { cache: "no-store", ...init, signal: controller.signal });
  } catch {
    if (controller.signal.aborted) {
      throw new SignerError("timeout", `The signer at ${new URL(url).origin} did not answer in time.`);
    }
    throw new SignerError(
      "unreachable",
      `No answer from the signer at ${new URL(url).origin}: it is down, the URL is wrong, or CORS refused this origin.`,
    );
  } finally {
    clearTimeout(timer);
  }
}

async function json<T>(response: Response): Promise<T> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const object = body && typeof body === "object" ? (body as Record<string, unknown>) : undefined;
  if (!response.ok || !object) {
    const retry = Number(response.headers.get("Retry-After"));
    throw new SignerError(
      typeof object?.error === "string" ? object.error : "bad_response",
      typeof object?.message === "string" ? object.message : `Unexpected answer (${response.status}).`,
      response.status,
      retry > 0 ? retry : undefined,
    );
  }
  return object as T;
}

/** Trades a Home Assistant access token for our cookie. */
export async function createSession(signer: string, accessToken: string): Promise<SessionResponse> {
  const response = await request(`${signer}/session`, {
    method: "POST",
    credentials: "include",
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  const body = await json<SessionResponse>(response);
  if (typeof body.expires_at !== "number" || !body.user) throw new SignerError("bad_response", "Unexpected answer.", response.status);
  return body;
}

/** Whether the browser sent our cookie to the signer, and what the signer thinks of it. */
export async function sessionStatus(signer: string): Promise<TimedStatus> {
  const start = Date.now();
  const status = await json<SessionStatus>(await request(`${signer}/session`, { credentials: "include" }));
  const end = Date.now();
  return { status, midpoint: (start + end) / 2, rtt: end - start };
}

/**
 * Clears our cookie (same name, Domain and Path) through the signer, which also puts its jti on
 * the deny-list that /verify consults. `keepalive`: the request outlives the page, because Home
 * Assistant reloads right after its own logout. Measured in Chromium (cross-origin signer, CORS
 * with credentials, navigation right after the call): a plain fetch reaches the signer but the
 * navigation drops its answer, so the browser keeps the cookie; `fetch(…, {keepalive: true})` and
 * `navigator.sendBeacon` both clear it. We use the keepalive fetch: it is the same CORS request
 * with `credentials: "include"` as every other call here, whereas a beacon's credentials and CORS
 * mode cannot be chosen (and have differed between browsers), content blockers drop beacons, and
 * a beacon's answer is unreadable, so a page that stays could not tell whether it worked.
 */
export async function logout(signer: string): Promise<void> {
  await json(await request(`${signer}/logout`, { method: "POST", credentials: "include", keepalive: true }));
}

/** Does anything answer at the signer's address? (no-cors: true even when CORS would refuse us). */
export async function reachable(signer: string): Promise<boolean> {
  try {
    await request(`${signer}/healthz`, { mode: "no-cors", credentials: "omit" });
    return true;
  } catch {
    return false;
  }
}
