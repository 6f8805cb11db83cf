/**
 * One refresher per page, however many copies of the module load (extra_module_url,
 * panel_custom and a dashboard resource have different URLs, so each is its own module
 * instance). The first copy creates it; later copies only offer their signer URL.
 */
import type { Refresher } from "./refresher.js";

export const GLOBAL_KEY = Symbol.for("jwt-cookie.v1");

export interface JwtCookieGlobal {
  refresher: Refresher;
}

export function shared(): JwtCookieGlobal | undefined {
  return (globalThis as Record<symbol, JwtCookieGlobal | undefined>)[GLOBAL_KEY];
}

export function share(value: JwtCookieGlobal): void {
  (globalThis as Record<symbol, JwtCookieGlobal | undefined>)[GLOBAL_KEY] = value;
}
