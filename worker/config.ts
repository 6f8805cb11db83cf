/**
 * The only reader of the environment. Turns Worker vars/secrets (or Node's process.env)
 * into validated, typed settings once, or into a list of problems that each name the
 * key, what is wrong and how to fix it. Nothing else in the signer looks at `env`.
 */
import { precheckAccessToken } from "./home-assistant/access-token-precheck.js";
import { canonicalHost, isHostName, isIPv4Address } from "./http/canonical-host.js";
import { isHostUnder } from "./http/redirect-allowlist.js";

export type Env = Record<string, unknown>;

export type SameSite = "Lax" | "Strict" | "None";

export interface AccessRule {
  /** The user needs at least one of these roles ("user", "admin", "owner"). */
  roles?: string[];
  /** The user's Home Assistant id must be one of these. */
  users?: string[];
}

export interface Settings {
  haUrl: string; // origin of Home Assistant, no trailing slash
  haWebSocketUrl: string;
  /** PKCS#8 PEM or private JWK, as given; tokens/keys.ts imports it. */
  signingKey: string;
  previousPublicKeys: JsonWebKey[];
  cookie: {
    name: string;
    domain: string | undefined; // as configured, e.g. ".example.com"; undefined = host-only
    secure: boolean;
    httpOnly: boolean;
    sameSite: SameSite;
  };
  tokenTtl: number; // seconds
  jwt: { issuer: string; audience: string[] };
  allowedOrigins: string[];
  /** Host names ("grafana.example.com"), wildcard suffixes ("*.example.com") or origins. */
  redirectAllowlist: string[];
  haTimeoutMs: number;
  publicUrl: string | undefined; // the signer's external origin
  rateLimitPerMinute: number;
  accessRules: Record<string, AccessRule>;
  /** Largest number of entries each in-memory cache may hold. */
  cacheMaxEntries: number;
  /** How old, at most, the Home Assistant "yes" behind a new cookie may be (seconds). */
  haAnswerMaxAgeSeconds: number;
  /** Protection of the signer's address from Home Assistant's IP ban (home-assistant/ban-guard.ts). */
  haGuard: {
    /** HA_TOKEN: long-lived access token of a dedicated Home Assistant user, if given. */
    serviceToken: string | undefined;
    /** Home Assistant's login_attempts_threshold as assumed; undefined = it bans nobody. */
    loginAttemptsThreshold: number | undefined;
    rejectionsPerClient: number;
    rejectionWindowSeconds: number;
  };
  /**
   * LOCAL_ONLY_CHECK: refuse cookies while the signer cannot tell whether a user may log in only
   * from the local network (that needs an administrator's HA_TOKEN). Off: the operator states
   * that no user of theirs is local-only, or accepts that such users get cookies.
   */
  localOnlyCheck: boolean;
  /** GATED_HOSTS: the hostnames the Worker stands in front of as the gate (canonical form); empty = no gate. */
  gatedHosts: ReadonlySet<string>;
  /** GATE_FORWARD_COOKIE: whether the origin still gets our cookie (or the Bearer JWT that signed in). */
  gateForwardCookie: boolean;
}

/** Where the settings are used: the gate needs Cloudflare's origin behind a hostname, which only Workers has. */
export type Platform = "workers" | "node";

export interface ConfigProblem {
  key: string;
  message: string;
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; problems: ConfigProblem[] };

export const DEFAULT_HA_URL_FOR_DEVELOPMENT = "http://homeassistant.local:8123";
const COOKIE_NAME_PATTERN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

/** Reads one string setting; blank counts as unset. */
function read(env: Env, key: string): string | undefined {
  const value = env[key];
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function list(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(/[,\s]+/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

export function parseBoolean(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  return undefined;
}

/** "1800", "1800s", "30m", "1h" -> seconds. */
export function parseDuration(value: string, unit: "s" | "ms"): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h)?$/.exec(value.toLowerCase());
  if (!match) return undefined;
  const n = Number(match[1]);
  const suffix = match[2] ?? unit;
  const ms = suffix === "ms" ? n : suffix === "s" ? n * 1000 : suffix === "m" ? n * 60_000 : n * 3_600_000;
  return unit === "ms" ? ms : ms / 1000;
}

/**
 * A host name in a setting (ACCESS_RULES key, REDIRECT_ALLOWLIST entry), in the canonical
 * form the checks compare (lower case, no trailing dot, IDN as punycode), or undefined.
 * "*.example.com" keeps its wildcard prefix; a port has no place in a host setting.
 */
export function canonicalHostSetting(value: string): string | undefined {
  const wildcard = value.startsWith("*.");
  const raw = wildcard ? value.slice(2) : value;
  if (!raw.startsWith("[") && raw.includes(":")) return undefined;
  const host = canonicalHost(raw);
  if (host === undefined) return undefined;
  // A wildcard covers names under a domain, never under an IP address.
  if (wildcard) return isHostName(host) && !/\.\d+$|^\d+$/.test(host) ? `*.${host}` : undefined;
  return host;
}

/** An origin whose host is in canonical form (https://nas.example.net.:5001 → https://nas.example.net:5001). */
function canonicalOrigin(origin: string): string | undefined {
  const url = new URL(origin);
  const host = canonicalHost(url.hostname);
  if (host === undefined) return undefined;
  url.hostname = host;
  return url.origin;
}

/** Parses an origin such as "https://ha.example.com:8123"; undefined when it is anything else. */
export function parseOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (url.pathname !== "/" && url.pathname !== "") return undefined;
  // The URL parser "repairs" these; in a setting they are a typo we should point out.
  if (/[\\\s]/.test(value) || !/^https?:\/\/[^/]/i.test(value)) return undefined;
  return url.origin; // normalised: lower-case host, default port dropped

}

function parsePreviousKeys(raw: string | undefined, problems: ConfigProblem[]): JsonWebKey[] {
  if (raw === undefined) return [];
  const fix = 'Set it to the JWKS printed by "npm run keygen -- --rotate", e.g. {"keys":[{"kty":"EC","crv":"P-256","x":"…","y":"…"}]}, or remove it.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push({ key: "PREVIOUS_PUBLIC_KEYS", message: `is not valid JSON. ${fix}` });
    return [];
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) {
    problems.push({ key: "PREVIOUS_PUBLIC_KEYS", message: `must be a JWKS object with a "keys" array. ${fix}` });
    return [];
  }
  const out: JsonWebKey[] = [];
  keys.forEach((key: unknown, i) => {
    const k = key as Record<string, unknown> | null;
    if (!k || typeof k !== "object") {
      problems.push({ key: "PREVIOUS_PUBLIC_KEYS", message: `key #${i + 1} is not an object. ${fix}` });
    } else if ("d" in k) {
      problems.push({
        key: "PREVIOUS_PUBLIC_KEYS",
        message: `key #${i + 1} contains a private part ("d"). Publish only public keys here: remove "d" from it.`,
      });
    } else if (k.kty !== "EC" || k.crv !== "P-256" || typeof k.x !== "string" || typeof k.y !== "string") {
      problems.push({
        key: "PREVIOUS_PUBLIC_KEYS",
        message: `key #${i + 1} is not a P-256 EC public key (needs kty "EC", crv "P-256", x, y). ${fix}`,
      });
    } else {
      out.push({ kty: "EC", crv: "P-256", x: k.x, y: k.y });
    }
  });
  return out;
}

export function parseAccessRules(raw: string | undefined, problems: ConfigProblem[]): Record<string, AccessRule> {
  if (raw === undefined) return {};
  const example = 'e.g. {"grafana.example.com":{"roles":["admin"]},"nas.example.com":{"users":["<Home Assistant user id>"]}}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push({ key: "ACCESS_RULES", message: `is not valid JSON; ${example}.` });
    return {};
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    problems.push({ key: "ACCESS_RULES", message: `must be an object that maps host names to rules; ${example}.` });
    return {};
  }
  const rules: Record<string, AccessRule> = {};
  for (const [host, rule] of Object.entries(parsed as Record<string, unknown>)) {
    const canonical = canonicalHostSetting(host);
    if (canonical === undefined) {
      problems.push({ key: "ACCESS_RULES", message: `"${host}" is not a host name (or "*.domain" pattern, without port); ${example}.` });
      continue;
    }
    if (Object.hasOwn(rules, canonical)) {
      problems.push({ key: "ACCESS_RULES", message: `"${host}" is the same host as another key (${canonical}): merge the two rules into one.` });
      continue;
    }
    const r = rule as Record<string, unknown> | null;
    const isStringList = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string" && s !== "");
    if (
      !r ||
      typeof r !== "object" ||
      Object.keys(r).some((k) => k !== "roles" && k !== "users") ||
      (r.roles !== undefined && !isStringList(r.roles)) ||
      (r.users !== undefined && !isStringList(r.users)) ||
      (r.roles === undefined && r.users === undefined)
    ) {
      problems.push({
        key: "ACCESS_RULES",
        message: `the rule for "${host}" must have "roles" and/or "users", each a list of strings; ${example}.`,
      });
      continue;
    }
    rules[canonical] = {
      ...(r.roles !== undefined ? { roles: r.roles as string[] } : {}),
      ...(r.users !== undefined ? { users: r.users as string[] } : {}),
    };
  }
  return rules;
}

function parseInteger(
  env: Env,
  key: string,
  fallback: number,
  range: [number, number],
  unit: "s" | "ms" | "count",
  problems: ConfigProblem[],
): number {
  const raw = read(env, key);
  if (raw === undefined) return fallback;
  const value = unit === "count" ? (/^\d{1,9}$/.test(raw) ? Number(raw) : undefined) : parseDuration(raw, unit);
  const shown = unit === "count" ? "" : unit === "s" ? " seconds" : " milliseconds";
  if (value === undefined || !Number.isInteger(value) || value < range[0] || value > range[1]) {
    problems.push({
      key,
      message: `"${raw}" is not valid: use a whole number from ${range[0]} to ${range[1]}${shown}${
        unit === "count" ? "" : ` (suffixes ${unit === "ms" ? "ms, " : ""}s, m, h are accepted)`
      }; the default is ${fallback}.`,
    });
    return fallback;
  }
  return value;
}

/** Default of HA_LOGIN_ATTEMPTS_THRESHOLD: the lowest value people use, so an unknown setting cannot get the signer banned. */
export const DEFAULT_ASSUMED_LOGIN_ATTEMPTS_THRESHOLD = 3;

function parseLoginAttemptsThreshold(env: Env, problems: ConfigProblem[]): number | undefined {
  const raw = read(env, "HA_LOGIN_ATTEMPTS_THRESHOLD");
  if (raw === undefined) return DEFAULT_ASSUMED_LOGIN_ATTEMPTS_THRESHOLD;
  // Home Assistant bans nobody with a threshold below 1 (its default is -1).
  if (/^(off|0|-1)$/i.test(raw)) return undefined;
  const value = /^\d{1,4}$/.test(raw) ? Number(raw) : undefined;
  if (value === undefined || value < 2 || value > 1000) {
    problems.push({
      key: "HA_LOGIN_ATTEMPTS_THRESHOLD",
      message: `"${raw}" is not valid: set it to Home Assistant's http: login_attempts_threshold (2 to 1000), or "off" if Home Assistant bans nobody (its default); with 1 Home Assistant bans at the first rejected token, which no signer can avoid. The default assumes ${DEFAULT_ASSUMED_LOGIN_ATTEMPTS_THRESHOLD}.`,
    });
    return DEFAULT_ASSUMED_LOGIN_ATTEMPTS_THRESHOLD;
  }
  return value;
}

function parseServiceToken(env: Env, problems: ConfigProblem[]): string | undefined {
  const token = read(env, "HA_TOKEN");
  if (token === undefined) return undefined;
  const check = precheckAccessToken(token, Math.floor(Date.now() / 1000));
  if (!check.ok) {
    problems.push({
      key: "HA_TOKEN",
      message: `${check.detail}: create a long-lived access token for a dedicated Home Assistant user (its profile page, "Long-lived access tokens") and store it with "wrangler secret put HA_TOKEN" or in the environment.`,
    });
    return undefined;
  }
  return token;
}

function parseFlag(env: Env, key: string, fallback: boolean, problems: ConfigProblem[]): boolean {
  const raw = read(env, key);
  if (raw === undefined) return fallback;
  const value = parseBoolean(raw);
  if (value === undefined) {
    problems.push({ key, message: `"${raw}" is not a boolean: use true or false (default ${fallback}).` });
    return fallback;
  }
  return value;
}

interface GateContext {
  publicUrl: string | undefined;
  haUrl: string;
  cookieDomain: { raw: string | undefined; valid: string | undefined };
  platform: Platform;
}

/**
 * GATED_HOSTS: bare hostnames only, no wildcards. A wildcard would also take in the signer's
 * own hostname, Home Assistant's, and every subdomain added later, before anybody decided to
 * protect it (and "*.example.com" in a Workers route does the same on Cloudflare's side).
 */
function parseGatedHosts(raw: string | undefined, context: GateContext, problems: ConfigProblem[]): Set<string> {
  const hosts = new Set<string>();
  const items = list(raw);
  if (items.length === 0) return hosts;
  const problem = (message: string) => problems.push({ key: "GATED_HOSTS", message });
  const example = 'e.g. "grafana.example.com,nas.example.com"';
  if (context.platform === "node") {
    problem(
      "is for the Worker on Cloudflare only: the gate passes allowed requests on to the origin Cloudflare has behind each hostname, and on Node there is none. Remove GATED_HOSTS and protect those hostnames with a reverse proxy that asks /verify (docs/self-hosting.md).",
    );
    return hosts;
  }
  if (context.publicUrl === undefined) {
    problem('needs PUBLIC_URL: the gate sends browsers to PUBLIC_URL/login to sign in. Set PUBLIC_URL to the signer\'s own address, e.g. "https://auth.example.com".');
  }
  const signerHost = context.publicUrl ? new URL(context.publicUrl).hostname : undefined;
  const haHost = context.haUrl ? new URL(context.haUrl).hostname : undefined;
  for (const item of items) {
    if (item.includes("*")) {
      problem(`"${item}": wildcards are not accepted. List each hostname to gate, ${example}: a wildcard would also gate the signer's and Home Assistant's own hostnames and every subdomain you add later.`);
      continue;
    }
    const host = /[/:@]/.test(item) ? undefined : canonicalHost(item);
    // Cloudflare routes by hostname: an IP literal or a single label can never be gated.
    if (host === undefined || !isHostName(host) || !host.includes(".") || /^[\d.]+$/.test(host)) {
      problem(`"${item}" is not a hostname: list bare hostnames without scheme, port or path, ${example}.`);
      continue;
    }
    if (host === signerHost) {
      problem(`"${item}" is the signer's own hostname (PUBLIC_URL): it must stay reachable for signing in. Gate only the hostnames of the services you protect.`);
      continue;
    }
    if (host === haHost) {
      problem(`"${item}" is Home Assistant's hostname (HA_URL): the cookie is made inside Home Assistant, so gating it would lock everybody out.`);
      continue;
    }
    if (context.cookieDomain.raw === undefined) {
      problem(`"${item}" never gets the cookie, which is host-only on the signer's hostname while COOKIE_DOMAIN is unset: set COOKIE_DOMAIN to your registrable domain, e.g. ".example.com".`);
      continue;
    }
    if (context.cookieDomain.valid !== undefined && !isHostUnder(host, context.cookieDomain.valid)) {
      problem(`"${item}" is not under COOKIE_DOMAIN (${context.cookieDomain.valid}), so browsers never send the cookie there: gate only hostnames under COOKIE_DOMAIN.`);
      continue;
    }
    hosts.add(host);
  }
  return hosts;
}

/** Validates the whole environment at once so that every problem is reported together. */
export function loadSettings(env: Env, platform: Platform = "workers"): SettingsResult {
  const problems: ConfigProblem[] = [];

  const haRaw = read(env, "HA_URL");
  let haUrl = "";
  if (haRaw === undefined) {
    problems.push({
      key: "HA_URL",
      message: 'is missing: set it to your Home Assistant\'s external address, e.g. "https://ha.example.com".',
    });
  } else {
    const origin = parseOrigin(haRaw.replace(/\/+$/, ""));
    if (!origin) {
      problems.push({
        key: "HA_URL",
        message: `"${haRaw}" is not a plain http(s) origin: use e.g. "https://ha.example.com" or "http://192.168.1.10:8123", without path, query or credentials.`,
      });
    } else haUrl = origin;
  }

  const signingKey = read(env, "SIGNING_KEY");
  if (signingKey === undefined) {
    problems.push({
      key: "SIGNING_KEY",
      message:
        'is missing: run "npm run keygen" and store the private key with "wrangler secret put SIGNING_KEY" (Workers) or in the environment / .dev.vars (Node, development).',
    });
  }

  const previousPublicKeys = parsePreviousKeys(read(env, "PREVIOUS_PUBLIC_KEYS"), problems);

  const cookieName = read(env, "COOKIE_NAME") ?? "jwt_access_token";
  if (!COOKIE_NAME_PATTERN.test(cookieName)) {
    problems.push({
      key: "COOKIE_NAME",
      message: `"${cookieName}" is not a valid cookie name: use 1-64 letters, digits or !#$%&'*+.^_\`|~- (default jwt_access_token).`,
    });
  }

  const cookieDomainRaw = read(env, "COOKIE_DOMAIN");
  let cookieDomain: string | undefined;
  if (cookieDomainRaw !== undefined) {
    // Stored canonically (a Domain attribute with a trailing dot or non-ASCII is ignored by browsers).
    const bare = canonicalHostSetting(cookieDomainRaw.replace(/^\./, ""));
    if (bare === undefined || !isHostName(bare) || !bare.includes(".") || /^[\d.]+$/.test(bare)) {
      problems.push({
        key: "COOKIE_DOMAIN",
        message: `"${cookieDomainRaw}" is not a domain a cookie can be scoped to: use your registrable domain such as ".example.com" (covers all its subdomains), or leave it unset for a host-only cookie.`,
      });
    } else cookieDomain = cookieDomainRaw.startsWith(".") ? `.${bare}` : bare;
  }

  const secure = parseFlag(env, "COOKIE_SECURE", true, problems);
  const httpOnly = parseFlag(env, "COOKIE_HTTP_ONLY", true, problems);
  const sameSiteRaw = read(env, "COOKIE_SAMESITE") ?? "Lax";
  const sameSite = (["Lax", "Strict", "None"] as const).find((s) => s.toLowerCase() === sameSiteRaw.toLowerCase());
  if (!sameSite) {
    problems.push({ key: "COOKIE_SAMESITE", message: `"${sameSiteRaw}" is not one of Lax, Strict, None (default Lax).` });
  } else if (sameSite === "None" && !secure) {
    problems.push({
      key: "COOKIE_SAMESITE",
      message: "None requires a Secure cookie (browsers drop it otherwise): set COOKIE_SECURE=true or use Lax.",
    });
  }
  // Browsers match the prefixes without regard to case (RFC 6265bis), and so does Hono's serializer.
  if (/^__host-/i.test(cookieName) && (cookieDomain !== undefined || !secure)) {
    problems.push({
      key: "COOKIE_NAME",
      message: "a __Host- cookie must be Secure and host-only: unset COOKIE_DOMAIN and COOKIE_SECURE, or choose another name.",
    });
  }
  if (/^__secure-/i.test(cookieName) && !secure) {
    problems.push({ key: "COOKIE_NAME", message: "a __Secure- cookie must be Secure: unset COOKIE_SECURE or choose another name." });
  }

  const tokenTtl = parseInteger(env, "TOKEN_TTL", 1800, [60, 86_400], "s", problems);
  const haTimeoutMs = parseInteger(env, "HA_TIMEOUT", 5000, [200, 60_000], "ms", problems);
  const rateLimitPerMinute = parseInteger(env, "RATE_LIMIT", 60, [1, 1_000_000], "count", problems);
  const cacheMaxEntries = parseInteger(env, "CACHE_MAX_ENTRIES", 10_000, [10, 1_000_000], "count", problems);
  const haAnswerMaxAgeSeconds = parseInteger(env, "HA_ANSWER_MAX_AGE", 10, [0, 60], "s", problems);
  if (read(env, "HA_CACHE_TTL") !== undefined) {
    // It used to let a Home Assistant "yes" stand for 300 s; silently ignoring it would hide that it no longer does.
    problems.push({
      key: "HA_CACHE_TTL",
      message:
        "is no longer supported: a new cookie now needs a Home Assistant answer at most HA_ANSWER_MAX_AGE seconds old (default 10, at most 60). Remove HA_CACHE_TTL, and set HA_ANSWER_MAX_AGE instead if the default does not suit you.",
    });
  }
  const haGuard = {
    serviceToken: parseServiceToken(env, problems),
    loginAttemptsThreshold: parseLoginAttemptsThreshold(env, problems),
    rejectionsPerClient: parseInteger(env, "HA_REJECTIONS_PER_CLIENT", 3, [1, 1000], "count", problems),
    rejectionWindowSeconds: parseInteger(env, "HA_REJECTION_WINDOW", 600, [10, 86_400], "s", problems),
  };

  const issuer = read(env, "JWT_ISSUER") ?? "homeassistant";
  const audience = list(read(env, "JWT_AUDIENCE") ?? "homeassistant");
  if (audience.length === 0) problems.push({ key: "JWT_AUDIENCE", message: 'needs at least one value (default "homeassistant").' });

  const allowedOrigins: string[] = [];
  for (const item of list(read(env, "ALLOWED_ORIGINS"))) {
    const origin = parseOrigin(item);
    if (!origin) {
      problems.push({
        key: "ALLOWED_ORIGINS",
        message: `"${item}" is not an origin: list origins such as "https://ha.example.com,http://192.168.1.10:8123" (scheme, host and port only; "*" is not allowed with cookies).`,
      });
    } else allowedOrigins.push(origin);
  }
  if (allowedOrigins.length === 0 && haUrl) allowedOrigins.push(haUrl);

  const redirectAllowlist: string[] = [];
  for (const item of list(read(env, "REDIRECT_ALLOWLIST"))) {
    const lower = item.toLowerCase();
    const parsedOrigin = /^https?:\/\//.test(lower) ? parseOrigin(lower) : undefined;
    const origin = parsedOrigin === undefined ? undefined : canonicalOrigin(parsedOrigin);
    const host = /^https?:\/\//.test(lower) ? undefined : canonicalHostSetting(item);
    if (origin) redirectAllowlist.push(origin);
    // "*.com" would let /login and /logout send browsers to any site under a top-level domain.
    else if (host?.startsWith("*.") && !host.slice(2).includes(".")) {
      problems.push({
        key: "REDIRECT_ALLOWLIST",
        message: `"${item}" would allow every site under a top-level domain: name your own domain, e.g. "*.lan.example.com".`,
      });
    } else if (host) redirectAllowlist.push(host);
    else {
      problems.push({
        key: "REDIRECT_ALLOWLIST",
        message: `"${item}" is not a host name, "*.domain" pattern or origin: e.g. "grafana.example.com,*.lan.example.com,https://nas.example.net".`,
      });
    }
  }

  let publicUrl: string | undefined;
  const publicRaw = read(env, "PUBLIC_URL");
  if (publicRaw !== undefined) {
    publicUrl = parseOrigin(publicRaw.replace(/\/+$/, ""));
    if (!publicUrl) {
      problems.push({
        key: "PUBLIC_URL",
        message: `"${publicRaw}" is not an origin: set the signer's external address, e.g. "https://auth.example.com".`,
      });
    }
  }

  const accessRules = parseAccessRules(read(env, "ACCESS_RULES"), problems);

  const gatedHosts = parseGatedHosts(
    read(env, "GATED_HOSTS"),
    { publicUrl, haUrl, cookieDomain: { raw: read(env, "COOKIE_DOMAIN"), valid: cookieDomain }, platform },
    problems,
  );
  const gateForwardCookie = parseFlag(env, "GATE_FORWARD_COOKIE", false, problems);
  const localOnlyCheck = parseFlag(env, "LOCAL_ONLY_CHECK", true, problems);

  if (problems.length > 0 || signingKey === undefined || !sameSite) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      haUrl,
      haWebSocketUrl: `${haUrl.replace(/^http/, "ws")}/api/websocket`,
      signingKey,
      previousPublicKeys,
      cookie: { name: cookieName, domain: cookieDomain, secure, httpOnly, sameSite },
      tokenTtl,
      jwt: { issuer, audience },
      allowedOrigins,
      redirectAllowlist,
      haTimeoutMs,
      publicUrl,
      rateLimitPerMinute,
      accessRules,
      cacheMaxEntries,
      haAnswerMaxAgeSeconds,
      haGuard,
      gatedHosts,
      gateForwardCookie,
      localOnlyCheck,
    },
  };
}

/** One line per problem, for logs and the `misconfigured` error message. */
export function describeProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `${p.key} ${p.message}`).join(" ");
}

/** Settings of the Node entry only (where to listen, which peers may set X-Forwarded-For, where to keep the deny-list). */
export interface NodeServerSettings {
  port: number;
  host: string;
  trustedProxies: string[];
  /** Directory for the deny-list file; undefined = memory only (a restart forgets sign-outs). */
  dataDir: string | undefined;
}

/**
 * A TRUSTED_PROXIES entry as Node reports a peer (node-server.ts compares them as strings):
 * IPv4 dotted (an IPv4-mapped IPv6 address as its IPv4), IPv6 compressed in lower case; or
 * undefined for anything else (a CIDR range or a host name would never match a peer).
 */
function peerAddressSetting(value: string): string | undefined {
  const v4 = value.replace(/^::ffff:/i, "");
  if (isIPv4Address(v4)) return v4;
  if (!value.includes(":") || !/^[0-9a-f:.]+$/i.test(value)) return undefined;
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

export function loadNodeServerSettings(env: Env): { ok: true; server: NodeServerSettings } | { ok: false; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const port = parseInteger(env, "PORT", 8787, [1, 65_535], "count", problems);
  const host = read(env, "HOST") ?? "127.0.0.1";
  const trustedProxies: string[] = [];
  for (const item of list(read(env, "TRUSTED_PROXIES"))) {
    const address = peerAddressSetting(item);
    if (address !== undefined) trustedProxies.push(address);
    else {
      problems.push({
        key: "TRUSTED_PROXIES",
        message: `"${item}" is not an IP address: list the addresses your reverse proxy connects from, e.g. "127.0.0.1,::1" (no ranges, no host names; they would never match, and every client would share the proxy's rate limit).`,
      });
    }
  }
  const dataDir = read(env, "DATA_DIR");
  if (dataDir !== undefined && /[\0\n]/.test(dataDir)) {
    problems.push({ key: "DATA_DIR", message: "must be a directory path on one line, e.g. /var/lib/jwt-cookie." });
  }
  return problems.length ? { ok: false, problems } : { ok: true, server: { port, host, trustedProxies, dataDir } };
}

/** Settings of the local verifier (worker/verifier-node.ts): where the signer is, where to listen, how often to ask. */
export interface VerifierSettings {
  /** The signer as the verifier reaches it, without a trailing slash (may have a path prefix). */
  signerUrl: string;
  port: number;
  host: string;
  /** How often the deny-list feed is polled: a sign-out reaches this verifier within about this long. */
  revocationsPollMs: number;
  /** How often keys and the check policy are fetched again when nothing asks sooner. */
  keysRefreshMs: number;
  /** At most one extra JWKS fetch per this long, triggered by a token with an unknown kid. */
  unknownKidRefetchMs: number;
  cacheMaxEntries: number;
  /**
   * How long a proxy that caches (nginx --check local, as generated) may reuse one of this
   * verifier's approvals, in seconds; 0: never. Told per answer with X-Accel-Expires, so a
   * sign-out reaches such a proxy within revocationsPollMs plus this long.
   */
  proxyApprovalCacheSeconds: number;
}

/** Default of PROXY_APPROVAL_CACHE: with REVOCATIONS_POLL's 10 s, a sign-out reaches nginx within 15 s. */
export const DEFAULT_PROXY_APPROVAL_CACHE_SECONDS = 5;

export function loadVerifierSettings(env: Env): { ok: true; settings: VerifierSettings } | { ok: false; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const raw = read(env, "SIGNER_URL");
  let signerUrl = "";
  if (raw === undefined) {
    problems.push({ key: "SIGNER_URL", message: 'is missing: set it to the signer\'s address as this machine reaches it, e.g. "https://auth.example.com" or "http://127.0.0.1:8787".' });
  } else {
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password || url.search || url.hash || /[\\\s]/.test(raw)) {
      problems.push({ key: "SIGNER_URL", message: `"${raw}" is not an http(s) URL without query or credentials: use e.g. "https://auth.example.com".` });
    } else signerUrl = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  }
  const port = parseInteger(env, "PORT", 8788, [1, 65_535], "count", problems);
  const host = read(env, "HOST") ?? "127.0.0.1";
  const revocationsPollMs = parseInteger(env, "REVOCATIONS_POLL", 10_000, [100, 300_000], "ms", problems);
  const keysRefreshMs = parseInteger(env, "KEYS_REFRESH", 300_000, [1_000, 86_400_000], "ms", problems);
  const unknownKidRefetchMs = parseInteger(env, "UNKNOWN_KID_REFETCH", 5_000, [100, 3_600_000], "ms", problems);
  const cacheMaxEntries = parseInteger(env, "CACHE_MAX_ENTRIES", 10_000, [10, 1_000_000], "count", problems);
  const proxyApprovalCacheSeconds = parseInteger(env, "PROXY_APPROVAL_CACHE", DEFAULT_PROXY_APPROVAL_CACHE_SECONDS, [0, 60], "s", problems);
  // nginx keeps an entry through the whole second its X-Accel-Expires ends in, so "at most
  // N seconds after the check" ends in second check + N - 1: with one second, the second of
  // the check itself, which the verifier does not tell (checking/check-response.ts).
  if (proxyApprovalCacheSeconds === 1) {
    problems.push({ key: "PROXY_APPROVAL_CACHE", message: `"${read(env, "PROXY_APPROVAL_CACHE")}" (one second) cannot be told to nginx, which counts whole seconds and keeps an entry through its last one: use 0 (never reuse an approval) or 2 to 60 seconds.` });
  }
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    settings: { signerUrl, port, host, revocationsPollMs, keysRefreshMs, unknownKidRefetchMs, cacheMaxEntries, proxyApprovalCacheSeconds },
  };
}

/** Platform bindings (objects, not strings) the signer can use when they are present. */
export interface Bindings {
  revokedSessions: import("./tokens/revocation-list.js").KvNamespaceLike | undefined;
}

export function loadBindings(env: Env): Bindings {
  const kv = env.REVOKED_SESSIONS as { get?: unknown; put?: unknown } | undefined;
  const usable = kv && typeof kv === "object" && typeof kv.get === "function" && typeof kv.put === "function";
  return { revokedSessions: usable ? (kv as Bindings["revokedSessions"]) : undefined };
}
