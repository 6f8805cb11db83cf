/**
 * Clearing cookies of our name that the signer did not set (a way out after a sibling host
 * planted one). A Set-Cookie only removes the cookie with the same name, Domain and Path,
 * and a browser never says which Domain or Path a cookie it sends has, so the signer can
 * only clear the variants it can name: host-only on its own host, and Domain= each parent
 * of its host (those are the only ones its own requests would carry), all with Path=/.
 * A planted cookie with another Path (Path=/api) cannot be named from here; the checks
 * ignore it unless it is a valid session (checking/presented-session.ts).
 */
import type { Settings } from "../config.js";
import { canonicalHost, isHostName } from "./canonical-host.js";
import { clearedCookie } from "./cookie.js";

/** Set-Cookie values clearing our name on every Domain variant except COOKIE_DOMAIN's (the caller's own). */
export function strayCookieClearings(settings: Settings, signerHost: string): string[] {
  const host = canonicalHost(signerHost);
  const ours = settings.cookie.domain?.replace(/^\./, "");
  const clearing = (domain: string | undefined) => clearedCookie({ ...settings, cookie: { ...settings.cookie, domain } });
  const out: string[] = [];
  if (ours !== undefined) out.push(clearing(undefined)); // host-only, on the signer's host
  // A __Host- cookie (the prefix in any case, as browsers and Hono read it) cannot have a
  // Domain; an IP address has no parents.
  if (host === undefined || !isHostName(host) || /\.\d+$/.test(host) || /^__host-/i.test(settings.cookie.name)) return out;
  const labels = host.split(".");
  // Down to two labels: browsers refuse a Domain that is a public suffix, so "com" is pointless.
  for (let i = 0; i <= labels.length - 2; i++) {
    const domain = labels.slice(i).join(".");
    if (domain !== ours) out.push(clearing(domain));
  }
  return out;
}
