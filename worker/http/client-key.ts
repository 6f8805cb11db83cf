/**
 * The key a client's budgets (the rate limit, the ban guard's per-client count) are kept under:
 * its IPv4 address, or the /64 its IPv6 address is in. One IPv6 host normally holds a whole /64
 * and may use any address in it (privacy addresses), so a budget per IPv6 address would not
 * bind it: it could send forged tokens from a new address each time.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address; // IPv4, or "unknown"
  let host: string;
  try {
    host = new URL(`http://[${address}]/`).hostname.slice(1, -1); // compressed, lower case
  } catch {
    return address;
  }
  const [head = "", tail] = host.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return `${groups.slice(0, 4).join(":")}::/64`;
}
