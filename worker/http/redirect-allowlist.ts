/**
 * Where the signer may send a browser after sign-in or sign-out. Only absolute http(s)
 * URLs whose host is under the cookie domain, is Home Assistant's or the signer's own, or
 * matches REDIRECT_ALLOWLIST. Everything else (scheme-relative, javascript:, credentials,
 * backslashes, control characters, look-alike hosts) is refused.
 */
import type { Settings } from "../config.js";

const ABSOLUTE_HTTP = /^https?:\/\/[^\\/]/i;
// Control characters, whitespace and backslashes have no place in a redirect target;
// browsers "repair" them in ways that differ from any server-side parser.
const FORBIDDEN = /[\u0000-\u0020\u007f-\u009f\\]/;

export function isHostUnder(host: string, domain: string): boolean {
  const bare = domain.replace(/^\./, "").toLowerCase();
  return host === bare || host.endsWith(`.${bare}`);
}

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
  const host = url.hostname; // lower-case, punycode for IDNs
  const allowed =
    (settings.cookie.domain !== undefined && isHostUnder(host, settings.cookie.domain)) ||
    url.origin === settings.haUrl ||
    (settings.publicUrl !== undefined && url.origin === settings.publicUrl) ||
    (signerOrigin !== undefined && url.origin === signerOrigin) ||
    settings.redirectAllowlist.some((entry) => matchesEntry(url, entry));
  return allowed ? url.href : undefined;
}
