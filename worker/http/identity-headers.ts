/**
 * The identity headers a proxy copies to the upstream. Values come from our own JWT, but
 * the name comes from Home Assistant, where a user may type anything: control characters
 * are dropped, non-ASCII is percent-encoded (header values must be bytes), length capped.
 */
import type { SessionClaims } from "../tokens/sign.js";

export const MAX_HEADER_VALUE = 256;

/**
 * The value as header-safe ASCII of at most 256 characters, cut only between whole
 * characters: a multi-byte character's escapes (%F0%9F%98%80) are kept whole or left out,
 * so an upstream that percent-decodes the header never meets half an escape.
 */
export function headerSafe(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) continue;
    // A lone surrogate (possible in JSON) has no UTF-8 form: encodeURIComponent would throw.
    const safe = code >= 0xd800 && code <= 0xdfff ? "%EF%BF%BD" : code > 0x7e || ch === "%" ? encodeURIComponent(ch) : ch;
    if (out.length + safe.length > MAX_HEADER_VALUE) break;
    out += safe;
  }
  return out;
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
