/**
 * A Set-Cookie header with its attributes sorted, for comparing what a cookie says rather
 * than how it is spelled: attribute order carries no meaning (RFC 6265 §5.2).
 */
export function normalizedSetCookie(header: string): string {
  const [pair, ...attributes] = header.split(/;\s*/);
  return [pair, ...attributes.sort()].join("; ");
}
