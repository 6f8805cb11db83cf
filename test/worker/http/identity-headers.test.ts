import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { headerSafe, identityHeaders } from "../../../worker/http/identity-headers.js";

describe("headerSafe", () => {
  test("cuts at whole characters: 60 × é ends in a whole %C3%A9", () => {
    const out = headerSafe("é".repeat(60));
    expect(out.length).toBeLessThanOrEqual(256);
    expect(out).toMatch(/^(%C3%A9)+$/);
    expect(out).toBe("%C3%A9".repeat(42)); // 42 × 6 = 252; a 43rd would need 258
    expect(decodeURIComponent(out)).toBe("é".repeat(42));
  });
  test("a 4-byte emoji is kept whole or left out", () => {
    const out = headerSafe(`${"a".repeat(250)}😀`);
    expect(out).toBe("a".repeat(250)); // %F0%9F%98%80 (12 characters) does not fit in the last 6
    expect(headerSafe(`${"a".repeat(244)}😀`)).toBe(`${"a".repeat(244)}%F0%9F%98%80`);
    expect(headerSafe("😀".repeat(30))).toBe("%F0%9F%98%80".repeat(21));
  });
  test("drops control characters, escapes % and non-ASCII, keeps printable ASCII", () => {
    expect(headerSafe("Eve\r\nX-Injected: 1\u0000\u007f 100% ü")).toBe("EveX-Injected: 1 100%25 %C3%BC");
  });
  test("a lone surrogate becomes U+FFFD instead of throwing", () => {
    expect(headerSafe("a\ud800b")).toBe("a%EF%BF%BDb");
    expect(identityHeaders({ sub: "s", name: "\udc00", roles: [], aud: [], iss: "i", iat: 0, nbf: 0, exp: 0, jti: "j" })["Remote-Name"]).toBe("%EF%BF%BD");
  });
  test("property: the output is at most 256 header-safe characters and always percent-decodes", () => {
    // Long names of mixed 1- to 4-byte characters (and lone surrogates), so cuts land everywhere.
    const character = fc.oneof(fc.constantFrom("a", "%", "\r", "é", "€", "😀", "\ud800", "\udfff"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(fc.array(character, { minLength: 20, maxLength: 300 }).map((chars) => chars.join("")), (name) => {
        const out = headerSafe(name);
        expect(out.length).toBeLessThanOrEqual(256);
        expect(out).toMatch(/^[\x20-\x7e]*$/);
        expect(() => decodeURIComponent(out)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });
});
