/**
 * Entry of dist/jwt-cookie.js. Loaded as a panel_custom module, as an extra_module_url and
 * as a dashboard resource, possibly all at once: it starts one refresher per page and
 * defines <jwt-cookie-panel> once, whichever copy comes first. It never throws into Home
 * Assistant.
 */
import { JwtCookiePanel } from "./panel/jwt-cookie-panel.js";
import { createRefresher } from "./refresher.js";
import { share, shared } from "./singleton.js";
import { signerFromModuleUrl } from "./signer-url.js";

try {
  let existing = shared();
  if (!existing) {
    existing = { refresher: createRefresher() };
    share(existing);
    existing.refresher.start();
  }
  const offer = signerFromModuleUrl(import.meta.url, location.origin);
  if (offer) existing.refresher.offerSigner(offer.url, offer.source);
  if (!customElements.get("jwt-cookie-panel")) customElements.define("jwt-cookie-panel", JwtCookiePanel);
} catch (error) {
  console.warn("[jwt-cookie] could not start:", error);
}
