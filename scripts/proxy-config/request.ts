/**
 * What the proxy-config generator is asked for: the command line, checked and normalised,
 * plus the few signer settings a proxy config depends on (read with the signer's own
 * loadSettings, so both agree). Every value that ends up in a config file is validated
 * here, so no argument or setting can inject a directive into a generated config.
 */
import { canonicalHostSetting, loadSettings, parseOrigin, type AccessRule, type Env } from "../../worker/config.js";
import { ruleFor } from "../../worker/http/access-rules.js";
import { isHostName } from "../../worker/http/canonical-host.js";

export const PROXIES = ["caddy", "nginx", "traefik", "haproxy"] as const;
export type ProxyName = (typeof PROXIES)[number];

/** The identity headers /verify answers with and the upstream receives. */
export const IDENTITY_HEADERS = ["Remote-User", "Remote-Name", "Remote-Groups"] as const;
/**
 * Spellings that some upstream frameworks (CGI, WSGI, PHP: HTTP_REMOTE_USER) read as the
 * same header; a client must not be able to smuggle an identity in through them either.
 */
export const IDENTITY_HEADER_ALIASES = IDENTITY_HEADERS.map((name) => name.replace("-", "_"));

export interface Listen {
  address: string | undefined; // undefined = all addresses
  port: number;
}

export interface ProxyConfigRequest {
  proxy: ProxyName;
  /** The protected service's host name, e.g. grafana.example.com. */
  host: string;
  /** Where the proxy sends allowed requests, e.g. http://127.0.0.1:3000. */
  upstream: URL;
  /** The signer's origin as the proxy reaches it (forward auth to /verify). */
  signer: string;
  /** HAProxy: the signer's origin as browsers reach it (the sign-in page). */
  publicUrl: string;
  /** Plain HTTP on this address instead of HTTPS on 443 (tests, or TLS terminated in front). */
  listen: Listen | undefined;
  /** HAProxy: the signer's public key file(s) (/public-key.pem); several while keys rotate. */
  pemPaths: string[];
  /** Traefik: Docker labels instead of file-provider YAML. */
  dockerLabels: boolean;
  /** Traefik: the entry point the router listens on. */
  entryPoint: string;
}

/** The signer settings a proxy config is built from. */
export interface ProxySettings {
  cookieName: string;
  issuer: string;
  audience: string[];
  /** ACCESS_RULES' rule for this host, for proxies that check the JWT themselves (HAProxy). */
  accessRule: AccessRule | undefined;
}

export type ParseResult =
  | { ok: true; request: ProxyConfigRequest; settings: ProxySettings; warnings: string[] }
  | { ok: false; error: string };

export const USAGE = `Usage: npm run proxy-config -- <caddy|nginx|traefik|haproxy> --host <service host> --upstream <url> [options]

  --host <name>          the protected service's host name, e.g. grafana.example.com
  --upstream <url>       where the service listens, e.g. http://127.0.0.1:3000
  --signer <url>         caddy, nginx, traefik: the signer as the proxy reaches it
                         (default http://127.0.0.1:8787)
  --public-url <url>     haproxy: the signer as browsers reach it (default PUBLIC_URL)
  --listen <[addr:]port> plain HTTP on this address instead of HTTPS on 443 (caddy, nginx, haproxy)
  --pem-path <file>      haproxy: the signer's /public-key.pem saved here (repeat during a key
                         rotation; default /etc/haproxy/jwt-cookie.pem)
  --entrypoint <name>    traefik: the entry point (default websecure)
  --docker-labels        traefik: print Docker labels instead of file-provider YAML

Settings (COOKIE_NAME, JWT_ISSUER, JWT_AUDIENCE, PUBLIC_URL, ACCESS_RULES) are read from the
environment and .dev.vars, exactly as the signer reads them.`;

const FLAGS_WITH_VALUE = new Set(["--host", "--upstream", "--signer", "--public-url", "--listen", "--pem-path", "--entrypoint"]);
const BOOLEAN_FLAGS = new Set(["--docker-labels"]);
const DEFAULT_SIGNER = "http://127.0.0.1:8787";
const DEFAULT_PEM_PATH = "/etc/haproxy/jwt-cookie.pem";
const SAFE_PATH = /^\/[A-Za-z0-9._/-]{1,255}$/;
// Values that are written into configs: no quotes, spaces, $ or control characters.
const SAFE_VALUE = /^[A-Za-z0-9._~:/@+-]{1,128}$/;

/** An upstream is a bare origin, checked exactly like the signer's own origin settings. */
function parseUpstream(value: string): URL | undefined {
  const origin = parseOrigin(value);
  return origin === undefined ? undefined : new URL(origin);
}

function parseListen(value: string): Listen | undefined {
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|localhost):)?(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { address: match[1], port };
}

/** The signer's settings without requiring what a proxy config does not use (the key, HA_URL). */
export function proxySettingsFrom(env: Env, host: string): { ok: true; settings: ProxySettings; publicUrl: string | undefined } | { ok: false; error: string } {
  const filled: Env = { ...env };
  if (typeof filled.SIGNING_KEY !== "string" || filled.SIGNING_KEY.trim() === "") filled.SIGNING_KEY = "not needed for proxy configs";
  if (typeof filled.HA_URL !== "string" || filled.HA_URL.trim() === "") filled.HA_URL = "http://homeassistant.invalid";
  const loaded = loadSettings(filled);
  if (!loaded.ok) {
    return { ok: false, error: `The signer's settings are invalid:\n${loaded.problems.map((p) => `  ${p.key} ${p.message}`).join("\n")}` };
  }
  const { cookie, jwt, accessRules, publicUrl } = loaded.settings;
  for (const [key, value] of [["JWT_ISSUER", jwt.issuer], ...jwt.audience.map((a) => ["JWT_AUDIENCE", a])] as const) {
    if (!SAFE_VALUE.test(value)) {
      return { ok: false, error: `${key} "${value}" contains characters a proxy config cannot hold safely: use letters, digits and . _ ~ : / @ + -.` };
    }
  }
  const accessRule = ruleFor(accessRules, host);
  for (const value of [...(accessRule?.roles ?? []), ...(accessRule?.users ?? [])]) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
      return { ok: false, error: `ACCESS_RULES for ${host}: "${value}" is not a role or user id (letters, digits, _ and - only).` };
    }
  }
  return { ok: true, settings: { cookieName: cookie.name, issuer: jwt.issuer, audience: jwt.audience, accessRule }, publicUrl };
}

/** Parses `<proxy> --host … --upstream … [options]` against the signer's settings in `env`. */
export function parseProxyConfigArgs(argv: string[], env: Env): ParseResult {
  const fail = (message: string): ParseResult => ({ ok: false, error: `${message}\n\n${USAGE}` });
  const [proxy, ...rest] = argv;
  if (!proxy || !(PROXIES as readonly string[]).includes(proxy)) return fail(`Name the proxy first: one of ${PROXIES.join(", ")}.`);
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const [name, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (BOOLEAN_FLAGS.has(name)) {
      flags.add(name);
    } else if (FLAGS_WITH_VALUE.has(name)) {
      const value = inline ?? rest[++i];
      if (value === undefined || value.startsWith("--")) return fail(`${name} needs a value.`);
      values.set(name, [...(values.get(name) ?? []), value]);
    } else {
      return fail(`Unknown argument "${arg}".`);
    }
  }
  const single = (name: string): string | undefined => {
    const list = values.get(name);
    return list?.[list.length - 1];
  };

  const hostRaw = single("--host");
  if (!hostRaw) return fail("--host is required (the protected service's host name, e.g. grafana.example.com).");
  // The canonical form, as the signer compares hosts: the config and the ACCESS_RULES lookup use it.
  const host = canonicalHostSetting(hostRaw);
  if (host === undefined || !isHostName(host) || !host.includes(".")) {
    return fail(`--host "${hostRaw}" is not a host name such as grafana.example.com (no port, no wildcard).`);
  }

  const upstreamRaw = single("--upstream");
  if (!upstreamRaw) return fail("--upstream is required (where the service listens, e.g. http://127.0.0.1:3000).");
  const upstream = parseUpstream(upstreamRaw);
  if (!upstream) return fail(`--upstream "${upstreamRaw}" is not an http(s) URL without path, e.g. http://127.0.0.1:3000.`);

  const signerRaw = single("--signer") ?? DEFAULT_SIGNER;
  const signer = parseOrigin(signerRaw.replace(/\/+$/, ""));
  if (!signer) return fail(`--signer "${signerRaw}" is not an origin such as http://127.0.0.1:8787 or https://auth.example.com.`);

  const loaded = proxySettingsFrom(env, host);
  if (!loaded.ok) return { ok: false, error: loaded.error };
  const warnings: string[] = [];
  if (proxy === "haproxy" && !/^[A-Za-z0-9._-]+$/.test(loaded.settings.cookieName)) {
    return { ok: false, error: `COOKIE_NAME "${loaded.settings.cookieName}": HAProxy configs need a cookie name of letters, digits and . _ - only.` };
  }

  // Only HAProxy builds the sign-in URL itself; with forward auth the signer does, from
  // its own PUBLIC_URL (else from the address the proxy reached it at).
  const publicRaw = single("--public-url");
  if (publicRaw !== undefined && proxy !== "haproxy") {
    return fail("--public-url applies to haproxy only: with forward auth the signer builds the sign-in URL from its own PUBLIC_URL setting.");
  }
  let publicUrl = loaded.publicUrl;
  if (publicRaw !== undefined) {
    publicUrl = parseOrigin(publicRaw.replace(/\/+$/, ""));
    if (!publicUrl) return fail(`--public-url "${publicRaw}" is not an origin such as https://auth.example.com.`);
  }
  if (loaded.publicUrl === undefined && proxy !== "haproxy") {
    warnings.push(
      `PUBLIC_URL is not set: the signer will send browsers to the address ${proxy} reaches it at (${signer}/login). Set PUBLIC_URL in the signer to its external address.`,
    );
  }
  if (publicUrl === undefined) {
    publicUrl = signer;
    if (proxy === "haproxy") warnings.push(`Neither PUBLIC_URL nor --public-url is set: browsers are sent to ${signer}/login.`);
  }

  const listenRaw = single("--listen");
  const listen = listenRaw === undefined ? undefined : parseListen(listenRaw);
  if (listenRaw !== undefined && !listen) return fail(`--listen "${listenRaw}" is not [address:]port, e.g. 8080 or 127.0.0.1:8080.`);
  if (listen && proxy === "traefik") return fail("--listen does not apply to Traefik (entry points are static configuration): use --entrypoint.");

  const pemPaths = values.get("--pem-path") ?? [];
  if (pemPaths.length > 0 && proxy !== "haproxy") return fail("--pem-path applies to haproxy only.");
  for (const path of pemPaths) {
    if (!SAFE_PATH.test(path)) return fail(`--pem-path "${path}" must be an absolute path of letters, digits and . _ / -.`);
  }

  const entryPoint = single("--entrypoint") ?? "websecure";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(entryPoint)) return fail(`--entrypoint "${entryPoint}" is not an entry point name.`);
  if (values.has("--entrypoint") && proxy !== "traefik") return fail("--entrypoint applies to traefik only.");

  const dockerLabels = flags.has("--docker-labels");
  if (dockerLabels && proxy !== "traefik") return fail("--docker-labels applies to traefik only.");

  return {
    ok: true,
    request: {
      proxy: proxy as ProxyName,
      host,
      upstream,
      signer,
      publicUrl,
      listen,
      pemPaths: pemPaths.length > 0 ? pemPaths : [DEFAULT_PEM_PATH],
      dockerLabels,
      entryPoint,
    },
    settings: loaded.settings,
    warnings,
  };
}

/** The command that reproduces a config, for its header comment (stable: no dates, no env values). */
export function commandLine(request: ProxyConfigRequest): string {
  const parts = ["npm run proxy-config --", request.proxy, "--host", request.host, "--upstream", request.upstream.origin];
  if (request.proxy !== "haproxy") parts.push("--signer", request.signer);
  if (request.proxy === "haproxy") parts.push("--public-url", request.publicUrl);
  if (request.listen) parts.push("--listen", listenText(request.listen));
  if (request.proxy === "haproxy") for (const path of request.pemPaths) parts.push("--pem-path", path);
  if (request.proxy === "traefik") {
    if (request.entryPoint !== "websecure") parts.push("--entrypoint", request.entryPoint);
    if (request.dockerLabels) parts.push("--docker-labels");
  }
  return parts.join(" ");
}

export function listenText(listen: Listen): string {
  return listen.address ? `${listen.address}:${listen.port}` : String(listen.port);
}

/** A short name for config identifiers: grafana.example.com -> grafana_example_com. */
export function slug(host: string): string {
  return host.replace(/[^a-z0-9]+/g, "_");
}
