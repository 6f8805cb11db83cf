/** Building our Set-Cookie headers and reading our cookie back, nothing more. */
import type { Settings } from "../config.js";

export function sessionCookie(settings: Settings, jwt: string, maxAge: number): string {
  return serialize(settings, jwt, maxAge);
}

/** Clears with the same Name, Domain and Path, or browsers keep the original. */
export function clearedCookie(settings: Settings): string {
  return `${serialize(settings, "", 0)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

function serialize(settings: Settings, value: string, maxAge: number): string {
  const { name, domain, secure, httpOnly, sameSite } = settings.cookie;
  const parts = [`${name}=${value}`, "Path=/", `Max-Age=${maxAge}`];
  if (domain) parts.push(`Domain=${domain}`);
  if (secure) parts.push("Secure");
  if (httpOnly) parts.push("HttpOnly");
  parts.push(`SameSite=${sameSite}`);
  return parts.join("; ");
}

/** Every value the Cookie header carries under `name` (a browser may send several). */
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
