/** Building our Set-Cookie headers (Hono's cookie helper) and reading our cookie back, nothing more. */
import { generateCookie } from "hono/cookie";
import type { Settings } from "../config.js";

/**
 * The line last built: the issuer hands the same JWT out again for a while
 * (tokens/session-issuer.ts), and its line only changes when Max-Age does (once a second).
 * Reused only for the very same settings, JWT and Max-Age it was built from.
 */
let lastSessionCookie: { settings: Settings; jwt: string; maxAge: number; line: string } | undefined;

export function sessionCookie(settings: Settings, jwt: string, maxAge: number): string {
  const last = lastSessionCookie;
  if (last?.settings === settings && last.maxAge === maxAge && last.jwt === jwt) return last.line;
  const line = serialize(settings, jwt, maxAge);
  lastSessionCookie = { settings, jwt, maxAge, line };
  return line;
}

/** Clears with the same Name, Domain and Path, or browsers keep the original. */
export function clearedCookie(settings: Settings): string {
  return serialize(settings, "", 0, new Date(0));
}

function serialize(settings: Settings, value: string, maxAge: number, expires?: Date): string {
  const { name, domain, secure, httpOnly, sameSite } = settings.cookie;
  return generateCookie(name, value, { path: "/", maxAge, domain, secure, httpOnly, sameSite, ...(expires ? { expires } : {}) });
}

/**
 * Every value the Cookie header carries under `name` (a browser may send several). Not
 * Hono's getCookie: it returns one value per name, and a planted second one must be seen.
 */
export function readCookies(header: string | undefined | null, name: string): string[] {
  if (!header || header.length > 16_384) return [];
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    values.push(value);
  }
  return values;
}

/**
 * At most this many values under our name are considered. A host under COOKIE_DOMAIN can plant
 * many; each costs a signature check, and the Cookie header (16 kB here, 8 kB at most proxies)
 * already bounds how many fit.
 */
export const MAX_SESSION_COOKIES = 8;

/**
 * The distinct non-empty values under our name, in the order the browser sent them (longest
 * Path first, then oldest), at most MAX_SESSION_COOKIES. Which one counts is decided by
 * checking/presented-session.ts, after verification.
 */
export function readSessionCookies(header: string | undefined | null, name: string): string[] {
  const distinct = [...new Set(readCookies(header, name).filter((v) => v !== ""))];
  return distinct.slice(0, MAX_SESSION_COOKIES);
}

/**
 * The Cookie header without any cookie called `name` (for the gate's request to the origin);
 * undefined when nothing else is left. The other cookies keep their order and bytes.
 */
export function withoutCookie(header: string | undefined | null, name: string): string | undefined {
  if (!header) return undefined;
  const kept = header.split(";").filter((pair) => {
    const eq = pair.indexOf("=");
    return (eq < 0 ? pair : pair.slice(0, eq)).trim() !== name && pair.trim() !== "";
  });
  return kept.length > 0 ? kept.map((pair) => pair.trim()).join("; ") : undefined;
}
