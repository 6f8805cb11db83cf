/**
 * Address and IndieAuth helpers, ported from home-assistant/core 2023.12:
 * homeassistant/util/network.py (is_local) and
 * homeassistant/components/auth/indieauth.py (verify_client_id, verify_redirect_uri).
 */
import { isIP } from "node:net";

// ---------------------------------------------------------------- addresses

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

function inV4(ip: string, cidr: string): boolean {
  const [base, bitsS] = cidr.split("/") as [string, string];
  const bits = Number(bitsS);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (v4ToInt(ip) & mask) === (v4ToInt(base) & mask);
}

function expandV6(ip: string): number[] | null {
  // returns 8 groups
  let s = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const n = v4ToInt(v4tail[1] as string);
    s = s.slice(0, -(v4tail[1] as string).length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(fill).fill("0"), ...tail].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isFinite(g)) ? groups : null;
}

/** Strip an IPv4-mapped IPv6 prefix ("::ffff:127.0.0.1" -> "127.0.0.1"). */
export function normalizeAddress(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? (m[1] as string) : ip;
}

/** homeassistant.util.network.is_local: loopback, RFC1918/ULA private, or link-local. */
export function isLocalAddress(ipIn: string): boolean {
  const ip = normalizeAddress(ipIn);
  const fam = isIP(ip);
  if (fam === 4) {
    return ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"].some((c) =>
      inV4(ip, c),
    );
  }
  if (fam === 6) {
    const g = expandV6(ip);
    if (!g) return false;
    const first = g[0] as number;
    if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return true; // ::1
    if ((first & 0xff00) === 0xfd00) return true; // fd00::/8
    if ((first & 0xffc0) === 0xfe80) return true; // fe80::/10
    return false;
  }
  return false;
}

// ---------------------------------------------------------------- urlparse

export interface UrlParts {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
  fragment: string;
}

/** A small equivalent of Python's urllib.parse.urlparse (enough for IndieAuth checks). */
export function urlparse(url: string): UrlParts {
  const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s.exec(url);
  if (!m) return { scheme: "", netloc: "", path: url, query: "", fragment: "" };
  return {
    scheme: (m[1] ?? "").toLowerCase(),
    netloc: m[2] ?? "",
    path: m[3] ?? "",
    query: m[4] ?? "",
    fragment: m[5] ?? "",
  };
}

/** indieauth._parse_url: lowercase netloc, empty path -> "/". */
export function parseUrlCanonical(url: string): UrlParts {
  const p = urlparse(url);
  return { ...p, netloc: p.netloc.toLowerCase(), path: p.path === "" ? "/" : p.path };
}

function hostOf(netloc: string): string {
  const noUser = netloc.includes("@") ? netloc.slice(netloc.lastIndexOf("@") + 1) : netloc;
  if (noUser.startsWith("[")) {
    const end = noUser.indexOf("]");
    return end > 0 ? noUser.slice(1, end) : noUser;
  }
  const c = noUser.lastIndexOf(":");
  return c >= 0 ? noUser.slice(0, c) : noUser;
}

/** indieauth._parse_client_id; returns the parts or null where Python raises ValueError. */
export function parseClientId(clientId: string): UrlParts | null {
  const parts = parseUrlCanonical(clientId);
  if (parts.scheme !== "http" && parts.scheme !== "https") return null;
  if (parts.path.split("/").some((seg) => seg === "." || seg === "..")) return null;
  if (parts.fragment !== "") return null;
  if (parts.netloc.includes("@")) return null; // username / password component
  // port must parse as an int in range when present
  const hostPort = parts.netloc.startsWith("[") ? parts.netloc.slice(parts.netloc.indexOf("]") + 1) : parts.netloc;
  const colon = hostPort.lastIndexOf(":");
  if (colon >= 0) {
    const port = hostPort.slice(colon + 1);
    if (port !== "" && (!/^\d+$/.test(port) || Number(port) > 65535)) return null;
  }
  // "We are not going to follow the spec here. We are going to allow any internal
  // network IP to be used inside a client id." HA tries ip_address(netloc) on the
  // whole netloc (port included), so "1.2.3.4:80" counts as a domain name there.
  let netloc = parts.netloc;
  if (netloc.startsWith("[") && netloc.endsWith("]")) netloc = netloc.slice(1, -1);
  if (isIP(netloc) === 0 || isLocalAddress(netloc)) return parts;
  return null;
}

export function verifyClientId(clientId: string): boolean {
  return parseClientId(clientId) !== null;
}

function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const ip = normalizeAddress(h);
  if (isIP(ip) === 4) return inV4(ip, "127.0.0.0/8");
  return ip === "::1";
}

/**
 * indieauth.verify_redirect_uri. Differences: the double fetches the client_id page
 * (to look for <link rel="redirect_uri" href="...">) only when the client_id host is
 * loopback, because the test network is loopback-only; other hosts behave like an
 * unreachable page (HA logs the connection error and finds no redirect URIs).
 */
export async function verifyRedirectUri(
  clientId: string,
  redirectUri: string,
  fetchTimeoutMs: number,
  track: (ac: AbortController, timer: NodeJS.Timeout) => () => void,
): Promise<boolean> {
  const cp = parseClientId(clientId);
  if (!cp) return false;
  const rp = parseUrlCanonical(redirectUri);
  if (cp.scheme === rp.scheme && cp.netloc === rp.netloc) return true;
  if (clientId === "https://home-assistant.io/iOS" && redirectUri === "homeassistant://auth-callback") return true;
  if (
    clientId === "https://home-assistant.io/android" &&
    [
      "homeassistant://auth-callback",
      "https://wear.googleapis.com/3p_auth/io.homeassistant.companion.android",
      "https://wear.googleapis-cn.com/3p_auth/io.homeassistant.companion.android",
    ].includes(redirectUri)
  ) {
    return true;
  }
  if (!isLoopbackHost(hostOf(cp.netloc))) return false;
  const uris = await fetchRedirectUris(clientId, fetchTimeoutMs, track);
  return uris.includes(redirectUri);
}

/** indieauth.fetch_redirect_uris: first 10 kB of the page, <link rel="redirect_uri" href>, urljoin'ed. */
async function fetchRedirectUris(
  url: string,
  timeoutMs: number,
  track: (ac: AbortController, timer: NodeJS.Timeout) => () => void,
): Promise<string[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const untrack = track(ac, timer);
  let html = "";
  try {
    const res = await fetch(url, { signal: ac.signal, redirect: "follow" });
    if (res.body) {
      const reader = res.body.getReader();
      let total = 0;
      const dec = new TextDecoder();
      while (total < 10 * 1024) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        html += dec.decode(value, { stream: true });
      }
      await reader.cancel().catch(() => undefined);
    }
  } catch {
    // HA logs and returns what it parsed so far
  } finally {
    clearTimeout(timer);
    untrack();
  }
  const found: string[] = [];
  for (const tag of html.matchAll(/<link\b([^>]*)>/gi)) {
    const attrs = parseAttrs(tag[1] ?? "");
    if (attrs.get("rel") === "redirect_uri") {
      const href = attrs.get("href");
      try {
        const h = href ?? "";
        // urljoin keeps absolute URLs untouched; WHATWG URL would normalise them.
        found.push(/^[a-z][a-z0-9+.-]*:/i.test(h) ? h : new URL(h, url).toString());
      } catch {
        /* ignore */
      }
    }
  }
  return found;
}

function parseAttrs(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of s.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = (m[1] ?? "").toLowerCase();
    if (!out.has(name)) out.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ""));
  }
  return out;
}

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}
