/**
 * Home Assistant's redirect back to the sign-in page (…/login?rd=…&n=<nonce>&auth_callback=1
 * &code=…&state=…). The nonce was put in sessionStorage before leaving for Home Assistant;
 * a return without the matching nonce was not started in this tab (e.g. a link someone sent
 * to sign the visitor in as them) and is refused.
 */
const NONCE_KEY = "jwt-cookie:oauth-nonce";

export type OAuthReturn = { kind: "none" } | { kind: "foreign" } | { kind: "code"; code: string };

export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const nonce = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  sessionStorage.setItem(NONCE_KEY, nonce);
  return nonce;
}

/** Reads (and uses up) the return parameters of the current URL. */
export function readOAuthReturn(search: string): OAuthReturn {
  const query = new URLSearchParams(search);
  if (!query.has("auth_callback")) return { kind: "none" };
  const expected = sessionStorage.getItem(NONCE_KEY);
  sessionStorage.removeItem(NONCE_KEY);
  const code = query.get("code");
  if (!expected || query.get("n") !== expected || !code) return { kind: "foreign" };
  return { kind: "code", code };
}

/** Where Home Assistant should send the browser back: this page, with rd and a fresh nonce. */
export function returnUrl(origin: string, rd: string | null): string {
  const query = new URLSearchParams();
  if (rd) query.set("rd", rd);
  query.set("n", newNonce());
  return `${origin}/login?${query.toString()}`;
}

/** The address bar without the code and nonce, once they are used. */
export function cleanLoginUrl(rd: string | null): string {
  return rd ? `/login?${new URLSearchParams({ rd }).toString()}` : "/login";
}
