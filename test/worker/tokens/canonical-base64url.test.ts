import fc from "fast-check";
import { base64url } from "jose";
import { expect, test } from "vitest";
import { isCanonicalBase64url } from "../../../worker/tokens/canonical-base64url.js";

test("every encoding jose or Buffer writes is canonical", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const encoded = base64url.encode(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString("base64url"));
      expect(isCanonicalBase64url(encoded)).toBe(true);
    }),
    { numRuns: 3000 },
  );
});

test("canonical exactly when decoding and encoding again gives the same text, for any string", () => {
  const roundTrips = (s: string) => {
    try {
      return base64url.encode(base64url.decode(s)) === s;
    } catch {
      return false;
    }
  };
  const nearBase64 = fc.string({ unit: fc.constantFrom(..."AQgwBRhx09-_+/= \n.é".split("")), maxLength: 12 });
  fc.assert(
    fc.property(fc.oneof(nearBase64, fc.string({ maxLength: 12 })), (s) => {
      expect({ s, canonical: isCanonicalBase64url(s) }).toEqual({ s, canonical: roundTrips(s) });
    }),
    { numRuns: 5000 },
  );
});

test("refuses what jose's lenient decoder would take: padding, other alphabets, whitespace, impossible lengths, trailing bits", () => {
  // jose decodes each of these (atob) to some bytes; a signer-issued part never looks like this.
  for (const bad of ["A", "AB==", "AB=", "A+B/", "AB C", "QQ=", "QR", "QUJ", "\u00e9AAA", "AA\n", " QQ", "QQ\t"]) {
    expect({ bad, canonical: isCanonicalBase64url(bad) }).toEqual({ bad, canonical: false });
  }
  // "QR" has non-zero trailing bits: "QQ" is the canonical form of the same byte.
  expect(base64url.decode("QR")).toEqual(base64url.decode("QQ"));
  for (const good of ["", "QQ", "QUI", "QUJD", "-_8"]) expect(isCanonicalBase64url(good)).toBe(true);
});
