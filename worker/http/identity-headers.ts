/**
 * The identity headers a proxy copies to the upstream. Values come from our own JWT, but
 * the name comes from Home Assistant, where a user may type anything: control characters
 * are dropped, non-ASCII is percent-encoded (header values must be bytes), length capped.
 */
import type { SessionClaims } from "../tokens/sign.js";

const MAX_HEADER_VALUE = 256;

export function headerSafe(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) continue;
    out += code > 0x7e || ch === "%" ? encodeURIComponent(ch) : ch;
    if (out.length >= MAX_HEADER_VALUE) break;
  }
  return out.slice(0, MAX_HEADER_VALUE);
}

// Claims objects come from the verifier's cache, so the headers are built once per session.
const built = new WeakMap<SessionClaims, Record<string, string>>();

export function identityHeaders(claims: SessionClaims): Record<string, string> {
  const known = built.get(claims);
  if (known) return known;
  const headers = {
    "Remote-User": headerSafe(claims.sub),
    "Remote-Name": headerSafe(claims.name),
    "Remote-Groups": headerSafe(claims.roles.filter((r) => /^[A-Za-z0-9_-]+$/.test(r)).join(",")),
  };
  built.set(claims, headers);
  return headers;
}
