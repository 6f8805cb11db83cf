/** The public half of the key ring in the two forms proxies read. */
import type { KeyRing } from "./keys.js";

export function jwksOf(keys: KeyRing): { keys: JsonWebKey[] } {
  return { keys: keys.accepted.map((entry) => entry.jwk) };
}

export function publicKeyPemOf(keys: KeyRing): string {
  return keys.publicKeyPem;
}
