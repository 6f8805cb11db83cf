/**
 * One canonical form for every host the checks compare (ACCESS_RULES, the redirect
 * allow-list, the gate's GATED_HOSTS, the config generator): lower case, no port, no
 * trailing dot, IDN as its ASCII (punycode) form. "GRAFANA.example.test.:8080" and
 * "grafana.example.test" are the same host and must get the same rule; anything that is
 * not a valid host name or IP literal gives undefined, and callers fail closed on it.
 */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^\d{1,5}$/;

/** An IPv4 address in plain dotted-decimal form (no leading zeros, no short or numeric forms). */
export function isIPv4Address(host: string): boolean {
  return IPV4.test(host);
}

/** A DNS host name of LDH labels (RFC 1123), already lower-case ASCII, no trailing dot. */
export function isHostName(host: string): boolean {
  return host.length > 0 && host.length <= 253 && host.split(".").every((label) => LABEL.test(label));
}

function toAscii(host: string): string | undefined {
  // The WHATWG URL parser applies UTS #46 (IDNA) mapping, as browsers do; it is Web-standard
  // on Workers, Node and browsers. Only used for non-ASCII input: for ASCII it would also
  // "repair" things (percent-escapes, numeric IPv4 forms) that we would rather refuse.
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}

/** The canonical form of a Host / X-Forwarded-Host value (port allowed), or undefined. */
export function canonicalHost(raw: string | undefined | null): string | undefined {
  if (raw === undefined || raw === null || raw.length === 0 || raw.length > 300) return undefined;
  let host = raw;
  if (host.startsWith("[")) {
    // IPv6 literal, optionally with a port: compare it as the URL parser prints it.
    const end = host.indexOf("]");
    if (end < 0) return undefined;
    const rest = host.slice(end + 1);
    if (rest !== "" && !(rest.startsWith(":") && PORT.test(rest.slice(1)))) return undefined;
    const literal = host.slice(0, end + 1);
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(literal)) return undefined;
    try {
      return new URL(`http://${literal}/`).hostname;
    } catch {
      return undefined;
    }
  }
  const colon = host.lastIndexOf(":");
  if (colon >= 0) {
    if (!PORT.test(host.slice(colon + 1))) return undefined;
    host = host.slice(0, colon);
  }
  if (host.endsWith(".")) host = host.slice(0, -1); // the absolute (FQDN) form of the same name
  if (host.length === 0) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(host)) {
    if (/[\s\u0000-\u001f\u007f]/.test(host)) return undefined;
    const ascii = toAscii(host);
    if (ascii === undefined) return undefined;
    host = ascii;
  }
  host = host.toLowerCase();
  if (IPV4.test(host)) return host;
  // A numeric last label makes browsers read the whole name as an IPv4 address in one of
  // its odd forms (0x7f.1, 2130706433): only the plain dotted-decimal form is accepted.
  if (/^(0x[0-9a-f]*|\d+)$/.test(host.slice(host.lastIndexOf(".") + 1))) return undefined;
  return isHostName(host) ? host : undefined;
}
