/**
 * Whether a JWT part is spelled exactly as unpadded base64url (RFC 7515 §2) writes it.
 * jose decodes leniently (atob: padding, whitespace, non-zero trailing bits), so two
 * spellings could carry the same bytes; the signer accepts only the canonical one. This
 * only looks at the characters (a regular expression and the last character's unused
 * bits): decoding stays jose's.
 */
const ALPHABET_ONLY = /^[A-Za-z0-9_-]*$/;
/** Last characters whose unused low bits are zero: 4 unused bits after 2 characters, 2 after 3. */
const LAST_OF_TWO = "AQgw";
const LAST_OF_THREE = "AEIMQUYcgkosw048";

export function isCanonicalBase64url(part: string): boolean {
  if (!ALPHABET_ONLY.test(part)) return false;
  const last = part.charAt(part.length - 1);
  switch (part.length % 4) {
    case 1:
      return false; // no byte count gives this length
    case 2:
      return LAST_OF_TWO.includes(last);
    case 3:
      return LAST_OF_THREE.includes(last);
    default:
      return true;
  }
}
