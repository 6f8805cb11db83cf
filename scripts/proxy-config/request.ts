/**
 * What the proxy-config generator is asked for: the command line, checked and normalised,
 * plus the few signer settings a proxy config depends on (read with the signer's own
 * loadSettings, so both agree). Every value that ends up in a config file is validated
 * here, so no argument or setting can inject a directive into a generated config.
 */
import { canonicalHostSetting, loadSettings, parseOrigin, type AccessRule, type Env } from "../../worker/config.js";
import { ruleFor } from "../../worker/http/access-rules.js";
import type { RedirectPolicy } from "../../worker/http/redirect-allowlist.js";
import { isHostName } from "../../worker/http/canonical-host.js";

export const PROXIES = ["caddy", "nginx", "traefik", "haproxy"] as const;
export type ProxyName = (typeof PROXIES)[number];

/**
 * Where the cookie is checked: "native" inside the proxy with public keys only (nginx with
 * njs, HAProxy), "local" by forward auth to the local verifier next to the proxy
 * (npm run verifier), "signer" by forward auth to the signer itself (a hop per request).
 */
export const CHECKS = ["native", "local", "signer"] as const;
export type CheckMode = (typeof CHECKS)[number];

/** The modes each proxy offers, its default (the form without a hop per request) first. */
export const CHECKS_BY_PROXY: Record<ProxyName, readonly CheckMode[]> = {
  nginx: ["native", "local", "signer"],
  haproxy: ["native"],
  caddy: ["local", "signer"],
  traefik: ["local", "signer"],
};

export const DEFAULT_SIGNER = "http://127.0.0.1:8787";
export const DEFAULT_VERIFIER = "http://127.0.0.1:8788";
/** Where nginx's native check keeps its script, settings and keys unless --out says otherwise. */
export const DEFAULT_NGINX_DIR = "/etc/nginx/jwt-cookie";
/**
 * nginx native: where nginx's own check server (the njs check behind the approval cache)
 * listens. Loopback TCP rather than a unix socket: nginx does not remove a socket file left
 * by a crash, and then refuses to start until someone deletes it.
 */
export const DEFAULT_NGINX_CHECK_LISTEN = "127.0.0.1:8789";
/** nginx native: the approval cache (proxy_cache_path); Debian's nginx keeps its own state in /var/lib/nginx. */
export const DEFAULT_NGINX_CACHE_DIR = "/var/lib/nginx/jwt-cookie";

/**
 * The approval cache's directory unless --cache-dir says otherwise. nginx native shares one
 * for every host; with --check local each host's cache is a zone of its own (the config of one
 * host is one file), so it gets a directory of its own next to native's.
 */
function defaultNginxCacheDir(check: CheckMode, host: string): string {
  return check === "local" ? `${DEFAULT_NGINX_CACHE_DIR}-${host}` : DEFAULT_NGINX_CACHE_DIR;
}

/** The identity headers /verify answers with and the upstream receives. */
export const IDENTITY_HEADERS = ["Remote-User", "Remote-Name", "Remote-Groups"] as const;
/**
 * Identity headers we never set that upstreams set up for other forward-auth servers trust
 * (Authelia's Remote-Email, e.g. in Grafana's auth proxy settings): a client's own would
 * reach such an upstream as if the proxy had vouched for them, so they are removed too.
 */
export const FOREIGN_IDENTITY_HEADERS = ["Remote-Email"] as const;
/**
 * Spellings that some upstream frameworks (CGI, WSGI, PHP: HTTP_REMOTE_USER) read as the
 * same header; a client must not be able to smuggle an identity in through them either.
 */
export const IDENTITY_HEADER_ALIASES = [...IDENTITY_HEADERS, ...FOREIGN_IDENTITY_HEADERS].map((name) => name.replace("-", "_"));
/** Every header a client sent that the upstream must not see: ours, the foreign ones and all their aliases. */
export const CLIENT_IDENTITY_HEADERS = [...IDENTITY_HEADERS, ...FOREIGN_IDENTITY_HEADERS, ...IDENTITY_HEADER_ALIASES];

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
  /** How the proxy checks the cookie. */
  check: CheckMode;
  /** The signer's origin as the proxy (or the generator, for keys) reaches it. */
  signer: string;
  /** The local verifier's origin (--check local). */
  verifier: string;
  /** Forward auth: the origin whose /verify the proxy asks (the verifier or the signer). */
  checker: string;
  /** Native checks: the signer's origin as browsers reach it (the sign-in page). */
  publicUrl: string;
  /** --out: the directory that gets the config and every file it references. */
  out: string | undefined;
  /** nginx native: where the njs script, its settings and keys/ live (--out, else the default). */
  nginxDir: string;
  /** nginx native: the loopback address of nginx's own check server (--check-listen). */
  nginxCheckListen: Listen;
  /** nginx native and local: the directory of the approval cache (--cache-dir). */
  nginxCacheDir: string;
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
  /** ACCESS_RULES' rule for this host, for proxies that check the JWT themselves. */
  accessRule: AccessRule | undefined;
  /** The redirect policy, for native checks to decide where a browser may come back to. */
  redirectPolicy: RedirectPolicy;
}

export type ParseResult =
  | { ok: true; request: ProxyConfigRequest; settings: ProxySettings; warnings: string[] }
  | { ok: false; error: string };

export const USAGE = `Usage: npm run proxy-config -- <caddy|nginx|traefik|haproxy> --host <service host> --upstream <url> [options]

  --host <name>          the protected service's host name, e.g. grafana.example.com
  --upstream <url>       where the service listens, e.g. http://127.0.0.1:3000
  --check <mode>         where the cookie is checked (default: the first the proxy offers)
                           native  inside the proxy, public keys only (nginx with njs, haproxy)
                           local   forward auth to the local verifier (nginx, caddy, traefik)
                           signer  forward auth to the signer, a hop per request (nginx, caddy, traefik)
  --signer <url>         the signer as this machine reaches it: --check signer asks its /verify,
                         --out fetches its public keys (default http://127.0.0.1:8787)
  --verifier <url>       --check local: the local verifier (default http://127.0.0.1:8788)
  --public-url <url>     --check native: the signer as browsers reach it (default PUBLIC_URL)
  --out <dir>            write the config and every file it references (nginx native: the njs
                         script, its settings, the signer's public keys) into this directory
  --listen <[addr:]port> plain HTTP on this address instead of HTTPS on 443 (caddy, nginx, haproxy)
  --check-listen <addr:port>  nginx native: the loopback address of nginx's own check server,
                         whose approvals nginx caches (default ${DEFAULT_NGINX_CHECK_LISTEN})
  --cache-dir <dir>      nginx native or local: the approval cache's directory; nginx creates
                         its last level (default ${DEFAULT_NGINX_CACHE_DIR}, and for
                         --check local ${DEFAULT_NGINX_CACHE_DIR}-<host>)
  --pem-path <file>      haproxy without --out: the signer's /public-key.pem saved here (repeat
                         during a key rotation; default /etc/haproxy/jwt-cookie.pem)
  --entrypoint <name>    traefik: the entry point (default websecure)
  --docker-labels        traefik: print Docker labels instead of file-provider YAML

Settings (COOKIE_NAME, JWT_ISSUER, JWT_AUDIENCE, PUBLIC_URL, ACCESS_RULES) are read from the
environment and .dev.vars, exactly as the signer reads them.`;

const FLAGS_WITH_VALUE = new Set([
  "--host",
  "--upstream",
  "--check",
  "--signer",
  "--verifier",
  "--public-url",
  "--out",
  "--listen",
  "--check-listen",
  "--cache-dir",
  "--pem-path",
  "--entrypoint",
]);
const BOOLEAN_FLAGS = new Set(["--docker-labels"]);
const DEFAULT_PEM_PATH = "/etc/haproxy/jwt-cookie.pem";
const SAFE_PATH = /^\/[A-Za-z0-9._/-]{1,255}$/;
// Values that are written into configs: no quotes, spaces, $ or control characters.
const SAFE_VALUE = /^[A-Za-z0-9._~:/@+-]{1,128}$/;

/**
 * The origins a config may hold: the URL parser accepts ; { } " ' $ ( ) , and more in a host
 * name (http://127.0.0.1;internal is a valid URL whose host is "127.0.0.1;internal"), each of
 * which means something to some proxy's config syntax. Host names of letters, digits, . _ -
 * (underscores: Docker service names), IPv4 and IPv6 literals, and a port.
 */
const CONFIG_SAFE_ORIGIN = /^https?:\/\/(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/** An origin as the signer's own settings take it (parseOrigin), and safe to write into a config. */
function parseConfigOrigin(value: string): string | undefined {
  const origin = parseOrigin(value);
  return origin !== undefined && CONFIG_SAFE_ORIGIN.test(origin) ? origin : undefined;
}

/** An upstream is a bare origin, checked exactly like the signer's own origin settings. */
function parseUpstream(value: string): URL | undefined {
  const origin = parseConfigOrigin(value);
  return origin === undefined ? undefined : new URL(origin);
}

/** 127.0.0.0/8, [::1] or localhost. */
function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === "localhost" || address === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address));
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
  const { cookie, jwt, accessRules, publicUrl, haUrl, redirectAllowlist } = loaded.settings;
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
  const redirectPolicy: RedirectPolicy = { cookie: { domain: cookie.domain }, haUrl, publicUrl, redirectAllowlist };
  return { ok: true, settings: { cookieName: cookie.name, issuer: jwt.issuer, audience: jwt.audience, accessRule, redirectPolicy }, publicUrl };
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

  const offered = CHECKS_BY_PROXY[proxy as ProxyName];
  const checkRaw = single("--check") ?? offered[0]!;
  if (!(CHECKS as readonly string[]).includes(checkRaw)) return fail(`--check "${checkRaw}" is not one of ${CHECKS.join(", ")}.`);
  const check = checkRaw as CheckMode;
  if (!offered.includes(check)) {
    const why =
      check === "native"
        ? `${proxy} cannot check a JWT itself as Debian packages it; --check local puts the local verifier next to it`
        : "HAProxy checks the JWT itself (jwt_verify); it has no forward auth without Lua";
    return fail(`--check ${check} does not apply to ${proxy}: ${why}. ${proxy} offers ${offered.join(", ")}.`);
  }

  const signerRaw = single("--signer") ?? DEFAULT_SIGNER;
  const signer = parseConfigOrigin(signerRaw.replace(/\/+$/, ""));
  if (!signer) return fail(`--signer "${signerRaw}" is not an origin such as http://127.0.0.1:8787 or https://auth.example.com.`);
  const verifierRaw = single("--verifier");
  if (verifierRaw !== undefined && check !== "local") return fail("--verifier applies to --check local only.");
  const verifier = parseConfigOrigin((verifierRaw ?? DEFAULT_VERIFIER).replace(/\/+$/, ""));
  if (!verifier) return fail(`--verifier "${verifierRaw}" is not an origin such as http://127.0.0.1:8788.`);

  const outRaw = single("--out");
  const out = outRaw?.replace(/(.)\/+$/, "$1");
  if (out !== undefined && !SAFE_PATH.test(out)) return fail(`--out "${outRaw}" must be an absolute directory path of letters, digits and . _ / -.`);

  const loaded = proxySettingsFrom(env, host);
  if (!loaded.ok) return { ok: false, error: loaded.error };
  const warnings: string[] = [];
  if (proxy === "haproxy" && !/^[A-Za-z0-9._-]+$/.test(loaded.settings.cookieName)) {
    return { ok: false, error: `COOKIE_NAME "${loaded.settings.cookieName}": HAProxy configs need a cookie name of letters, digits and . _ - only.` };
  }

  // Native checks build the sign-in URL themselves; with forward auth the signer (or the
  // local verifier, from the signer's settings) does, from the signer's own PUBLIC_URL.
  const publicRaw = single("--public-url");
  if (publicRaw !== undefined && check !== "native") {
    return fail("--public-url applies to --check native only: with forward auth the signer builds the sign-in URL from its own PUBLIC_URL setting.");
  }
  let publicUrl = loaded.publicUrl;
  if (publicUrl !== undefined && !CONFIG_SAFE_ORIGIN.test(publicUrl)) {
    return { ok: false, error: `PUBLIC_URL "${publicUrl}" contains characters a proxy config cannot hold safely: use a host name of letters, digits and . _ -, or an IP address.` };
  }
  if (publicRaw !== undefined) {
    publicUrl = parseConfigOrigin(publicRaw.replace(/\/+$/, ""));
    if (!publicUrl) return fail(`--public-url "${publicRaw}" is not an origin such as https://auth.example.com.`);
  }
  if (loaded.publicUrl === undefined && check === "signer") {
    warnings.push(
      `PUBLIC_URL is not set: the signer will send browsers to the address ${proxy} reaches it at (${signer}/login). Set PUBLIC_URL in the signer to its external address.`,
    );
  }
  if (loaded.publicUrl === undefined && check === "local") {
    warnings.push("PUBLIC_URL is not set: set it in the signer to its external address, or the local verifier cannot send browsers to the sign-in page.");
  }
  if (publicUrl === undefined) {
    publicUrl = signer;
    if (check === "native") warnings.push(`Neither PUBLIC_URL nor --public-url is set: browsers are sent to ${signer}/login.`);
  }

  const listenRaw = single("--listen");
  const listen = listenRaw === undefined ? undefined : parseListen(listenRaw);
  if (listenRaw !== undefined && !listen) return fail(`--listen "${listenRaw}" is not [address:]port, e.g. 8080 or 127.0.0.1:8080.`);
  if (listen && proxy === "traefik") return fail("--listen does not apply to Traefik (entry points are static configuration): use --entrypoint.");

  const nginxNative = proxy === "nginx" && check === "native";
  const checkListenRaw = single("--check-listen");
  if (checkListenRaw !== undefined && !nginxNative) return fail("--check-listen applies to nginx --check native only.");
  const nginxCheckListen = parseListen(checkListenRaw ?? DEFAULT_NGINX_CHECK_LISTEN);
  if (!nginxCheckListen || !isLoopback(nginxCheckListen.address)) {
    return fail(`--check-listen "${checkListenRaw}" is not a loopback address:port such as ${DEFAULT_NGINX_CHECK_LISTEN} (the check server must not be reachable from the network).`);
  }
  const cacheDirRaw = single("--cache-dir");
  const nginxCaches = proxy === "nginx" && (check === "native" || check === "local");
  if (cacheDirRaw !== undefined && !nginxCaches) return fail("--cache-dir applies to nginx --check native or local only.");
  const nginxCacheDir = (cacheDirRaw ?? defaultNginxCacheDir(check, host)).replace(/(.)\/+$/, "$1");
  if (!SAFE_PATH.test(nginxCacheDir) || nginxCacheDir === "/") return fail(`--cache-dir "${cacheDirRaw}" must be an absolute directory path of letters, digits and . _ / -.`);

  const pemPaths = values.get("--pem-path") ?? [];
  if (pemPaths.length > 0 && proxy !== "haproxy") return fail("--pem-path applies to haproxy only.");
  if (pemPaths.length > 0 && out !== undefined) return fail("--pem-path and --out do not go together: with --out the keys are fetched from --signer and saved in <dir>/keys.");
  for (const path of pemPaths) {
    if (!SAFE_PATH.test(path)) return fail(`--pem-path "${path}" must be an absolute path of letters, digits and . _ / -.`);
  }
  if (proxy === "nginx" && check === "native" && out === undefined) {
    warnings.push(
      `nginx --check native reads its njs script, settings and public keys from ${DEFAULT_NGINX_DIR}: write them all with --out ${DEFAULT_NGINX_DIR}.`,
    );
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
      check,
      signer,
      verifier,
      checker: check === "local" ? verifier : signer,
      publicUrl,
      out,
      nginxDir: out ?? DEFAULT_NGINX_DIR,
      nginxCheckListen,
      nginxCacheDir,
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
  const parts = ["npm run proxy-config --", request.proxy, "--host", request.host, "--upstream", request.upstream.origin, "--check", request.check];
  if (request.check === "signer" || (request.check === "native" && request.out !== undefined)) parts.push("--signer", request.signer);
  if (request.check === "local") parts.push("--verifier", request.verifier);
  if (request.check === "native") parts.push("--public-url", request.publicUrl);
  if (request.out !== undefined) parts.push("--out", request.out);
  if (request.listen) parts.push("--listen", listenText(request.listen));
  if (request.proxy === "nginx" && request.check === "native") {
    const checkListen = listenText(request.nginxCheckListen);
    if (checkListen !== DEFAULT_NGINX_CHECK_LISTEN) parts.push("--check-listen", checkListen);
  }
  const nginxCaches = request.proxy === "nginx" && (request.check === "native" || request.check === "local");
  if (nginxCaches && request.nginxCacheDir !== defaultNginxCacheDir(request.check, request.host)) parts.push("--cache-dir", request.nginxCacheDir);
  if (request.proxy === "haproxy" && request.out === undefined) for (const path of request.pemPaths) parts.push("--pem-path", path);
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
