/**
 * The signer URL a module copy implies by its own URL: its `?signer=` query
 * (/hacsfiles/jwt-cookie/jwt-cookie.js?signer=https://auth.example.com), or its origin when
 * the signer itself served it at /jwt-cookie.js (https://auth.example.com/jwt-cookie.js).
 * The panel's config.signer_url outranks both (see refresher.ts).
 */
import type { SignerSource } from "./refresher.js";
import { normalizeSignerUrl } from "./signer-client.js";

/** What to do when no signer URL is known (console, panel and diagnostics say the same). */
export const NO_SIGNER =
  "No signer URL: load the module from https://<signer>/jwt-cookie.js, add ?signer=https://<signer> to its URL, or set signer_url in the panel's config.";

export function signerFromModuleUrl(moduleUrl: string, pageOrigin: string): { url: string; source: SignerSource } | undefined {
  let url: URL;
  try {
    url = new URL(moduleUrl);
  } catch {
    return undefined;
  }
  const query = normalizeSignerUrl(url.searchParams.get("signer"));
  if (query) return { url: query, source: "query" };
  if (url.origin !== pageOrigin && url.pathname === "/jwt-cookie.js") return { url: url.origin, source: "origin" };
  return undefined;
}
