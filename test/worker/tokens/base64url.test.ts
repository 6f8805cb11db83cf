import fc from "fast-check";
import { expect, test } from "vitest";
import { decodeBytes, decodeJsonObject, encodeBytes } from "../../../worker/tokens/base64url.js";

test("matches Buffer's base64url both ways for any bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const encoded = encodeBytes(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString("base64url"));
      expect(Buffer.from(decodeBytes(encoded)!)).toEqual(Buffer.from(bytes));
    }),
    { numRuns: 3000 },
  );
});

test("refuses anything but canonical unpadded base64url", () => {
  for (const bad of ["A", "AB==", "AB=", "A+B/", "AB C", "QQ=", "QR", "QUJ", "\u00e9AAA", "AA\n"]) {
    expect({ bad, decoded: decodeBytes(bad) }).toEqual({ bad, decoded: undefined });
  }
  // "QR" has non-zero trailing bits: "QQ" is the canonical form of the same byte.
  expect(decodeBytes("QQ")).toEqual(new Uint8Array([65]));
  expect(decodeBytes("QR")).toBeUndefined();
  expect(decodeBytes("QUI")).toEqual(new TextEncoder().encode("AB"));
});

test("JSON objects only", () => {
  expect(decodeJsonObject(encodeBytes(new TextEncoder().encode('{"a":1}')))).toEqual({ a: 1 });
  for (const text of ["[]", "1", "null", '"x"', "{", "\xff"]) {
    expect(decodeJsonObject(Buffer.from(text, "latin1").toString("base64url"))).toBeUndefined();
  }
});
