/** base64url without padding (RFC 7515 §2), on bytes and on UTF-8 text. */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeBytes(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function encodeText(text: string): string {
  return encodeBytes(encoder.encode(text));
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict: rejects padding, the standard alphabet, whitespace and impossible lengths. */
export function decodeBytes(input: string): Uint8Array<ArrayBuffer> | undefined {
  if (!BASE64URL.test(input) || input.length % 4 === 1) return undefined;
  let binary: string;
  try {
    binary = atob(input.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Non-canonical trailing bits would let two strings decode to the same bytes.
  if (encodeBytes(bytes) !== input) return undefined;
  return bytes;
}

export function decodeText(input: string): string | undefined {
  const bytes = decodeBytes(input);
  if (!bytes) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Parses a base64url JSON object; undefined for anything that is not exactly one. */
export function decodeJsonObject(input: string): Record<string, unknown> | undefined {
  const text = decodeText(input);
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
