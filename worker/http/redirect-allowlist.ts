/**
 * Where the signer may send a browser after sign-in or sign-out. Only absolute http(s)
 * URLs whose host is under the cookie domain, is Home Assistant's or the signer's own, or
 * matches REDIRECT_ALLOWLIST. Everything else (scheme-relative, javascript:, credentials,
 * backslashes, control characters, look-alike hosts) is refused.
 */
import type { Settings } from "../config.js";
import { canonicalHost } from "./canonical-host.js";

const ABSOLUTE_HTTP = /^https?:\/\/[^\\/]/i;
// Control characters, whitespace and backslashes have no place in a redirect target;
// browsers "repair" them in ways that differ from any server-side parser.
const FORBIDDEN = /[\u0000-\u0020\u007f-\u009f\\]/;

/** `host` and `domain` canonical (COOKIE_DOMAIN may keep its leading dot). */
export function isHostUnder(host: string, domain: string): boolean {
  const bare = domain.replace(/^\./, "").toLowerCase();
  return host === bare || host.endsWith(`.${bare}`);
}

/** Entries are canonical (config.ts), and so is the URL's host by the time it is compared. */
function matchesEntry(url: URL, entry: string): boolean {
  if (entry.includes("://")) return url.origin === entry;
  if (entry.startsWith("*.")) return url.hostname.endsWith(entry.slice(1));
  return url.hostname === entry;
}

/** The settings the decision needs; the sign-in page gets exactly these to re-check in the browser. */
export interface RedirectPolicy {
  cookie: Pick<Settings["cookie"], "domain">;
  haUrl: Settings["haUrl"];
  publicUrl: Settings["publicUrl"];
  redirectAllowlist: Settings["redirectAllowlist"];
}

/**
 * The normalised URL when `target` is an allowed redirect, otherwise undefined.
 * `signerOrigin` is for the sign-in page in the browser (location.origin, which a client
 * cannot forge). The signer never passes its request's origin: that comes from the Host
 * header, which a client chooses; PUBLIC_URL (in settings) is what it trusts instead.
 */
export function allowedRedirect(target: string | undefined | null, settings: RedirectPolicy, signerOrigin?: string): string | undefined {
  if (!target || target.length > 4096 || FORBIDDEN.test(target) || !ABSOLUTE_HTTP.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) return undefined;
  // URL.hostname is lower-case punycode but keeps a trailing dot ("a.example.test."): judge and
  // send the browser to the canonical host, where the cookie (Domain without the dot) is sent.
  const host = canonicalHost(url.hostname);
  if (host === undefined) return undefined;
  url.hostname = host;
  const allowed =
    (settings.cookie.domain !== undefined && isHostUnder(host, settings.cookie.domain)) ||
    url.origin === settings.haUrl ||
    (settings.publicUrl !== undefined && url.origin === settings.publicUrl) ||
    (signerOrigin !== undefined && url.origin === signerOrigin) ||
    settings.redirectAllowlist.some((entry) => matchesEntry(url, entry));
  return allowed ? url.href : undefined;
}
