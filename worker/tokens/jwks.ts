/** The public half of the key ring as a JWKS (the PEM form is KeyRing.publicKeyPem). */
import type { KeyRing } from "./keys.js";

export function jwksOf(keys: KeyRing): { keys: JsonWebKey[] } {
  return { keys: keys.accepted.map((entry) => entry.jwk) };
}

