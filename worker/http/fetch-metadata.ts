/**
 * Whether a request to the signer is the user's own doing or was started by another site,
 * for the state-changing GETs (sign-out links). Browsers say where a request came from in
 * Sec-Fetch-Site (Fetch Metadata, in every current browser): "none" (typed, bookmark),
 * "same-origin", "same-site" (a page under the same registrable domain, such as a protected
 * service's sign-out link) or "cross-site". Without it (older browsers, scripts), a Referer
 * from the signer or a host under COOKIE_DOMAIN counts as own; anything else does not, so
 * such a request gets the one-click confirmation instead of changing state.
 */
import { canonicalHost } from "./canonical-host.js";
import { isHostUnder } from "./redirect-allowlist.js";

export interface RequestSource {
  secFetchSite: string | undefined;
  referer: string | undefined;
}

export interface TrustedSites {
  signerOrigin: string;
  cookieDomain: string | undefined;
}

const OWN_SITES = new Set(["none", "same-origin", "same-site"]);

export function isOwnNavigation(source: RequestSource, trusted: TrustedSites): boolean {
  if (source.secFetchSite !== undefined) return OWN_SITES.has(source.secFetchSite.trim().toLowerCase());
  if (source.referer === undefined) return false;
  let url: URL;
  try {
    url = new URL(source.referer);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return false;
  if (url.origin === trusted.signerOrigin) return true;
  const host = canonicalHost(url.hostname);
  return host !== undefined && trusted.cookieDomain !== undefined && isHostUnder(host, trusted.cookieDomain);
}

/** A state-changing request (POST) that a browser marked as started by another site. */
export function isCrossSiteRequest(secFetchSite: string | undefined): boolean {
  return secFetchSite?.trim().toLowerCase() === "cross-site";
}
