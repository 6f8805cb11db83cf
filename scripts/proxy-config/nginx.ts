/**
 * nginx (open source), --check signer or local: auth_request to /verify?redirect=false of
 * the signer or of the local verifier (which answers exactly as the signer does). The auth
 * subrequest may only answer 2xx/401/403, so the redirect to sign-in is nginx's own
 * error_page 401, to the URL the signer put in X-Sign-In-Url (nginx cannot URL-encode
 * rd itself). The host the signer sees is written in literally: a request with a foreign
 * Host header that lands in this (default) server must not pick another host's ACCESS_RULES.
 */
import { APPROVAL_CACHE_QUERY } from "../../worker/routes/verify.js";
import { approvalCacheDirectives, approvalCachePath, notApprovalMap } from "./nginx-approval-cache.js";
import { nginxNativeConfig } from "./nginx-native.js";
import { commandLine, FOREIGN_IDENTITY_HEADERS, IDENTITY_HEADER_ALIASES, IDENTITY_HEADERS, slug, type ProxyConfigRequest, type ProxySettings } from "./request.js";

const VERIFY_LOCATION = "/.jwt-cookie/verify";

function headerVariable(name: string): string {
  return `$upstream_http_${name.toLowerCase().replace(/-/g, "_")}`;
}

/** The host as the visitor's browser writes it: with the port unless it is the scheme's own. */
export function visitorAuthority(request: ProxyConfigRequest): { scheme: "http" | "https"; authority: string } {
  const { host, listen } = request;
  const port = listen?.port ?? 443;
  const scheme = listen ? "http" : "https";
  const standardPort = (scheme === "http" && port === 80) || (scheme === "https" && port === 443);
  return { scheme, authority: standardPort ? host : `${host}:${port}` };
}

export const indent = (lines: string[], depth: number): string => lines.map((line) => `${"    ".repeat(depth)}${line}`).join("\n");

/**
 * Everything of a protected host's config up to its server_name line: the Upgrade map for
 * WebSockets (named `connection`), the port-80 redirect block for HTTPS, and the opening of
 * the server block with its listen/ssl lines. The caller goes on inside the server block.
 */
export function serverOpening(request: ProxyConfigRequest, connection: string): string {
  const { host, listen } = request;
  const listenLines = listen
    ? [`listen ${listen.address ? `${listen.address}:` : ""}${listen.port};`]
    : [
        "listen 443 ssl;",
        "listen [::]:443 ssl;",
        `ssl_certificate     /etc/letsencrypt/live/${host}/fullchain.pem;`,
        `ssl_certificate_key /etc/letsencrypt/live/${host}/privkey.pem;`,
      ];
  const httpsRedirect = listen
    ? ""
    : `
server {
    listen 80;
    listen [::]:80;
    server_name ${host};
    return 301 https://$host$request_uri;
}
`;
  return `map $http_upgrade ${connection} {
    default upgrade;
    '' close;
}
${httpsRedirect}
server {
${indent([...listenLines, `server_name ${host};`], 1)}`;
}

/** The proxy_set_header lines after the identity headers: the upstream's view, WebSockets. */
export function upstreamHeaderLines(connection: string): string[] {
  return [
    "proxy_set_header Host $host;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Forwarded-Host $http_host;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_http_version 1.1;",
    "proxy_set_header Upgrade $http_upgrade;",
    `proxy_set_header Connection ${connection};`,
  ];
}

export function nginxConfig(request: ProxyConfigRequest, settings: ProxySettings): string {
  return request.check === "native" ? nginxNativeConfig(request, settings) : nginxForwardAuthConfig(request);
}

function nginxForwardAuthConfig(request: ProxyConfigRequest): string {
  const { host, upstream } = request;
  const signer = request.checker;
  const { scheme, authority: forwardedHost } = visitorAuthority(request);
  const signerHttps = signer.startsWith("https:");
  const signerUrl = new URL(signer);
  const signerPath = signerUrl.pathname.replace(/\/$/, "");
  // One upstream block per protected host (names must be unique when several hosts' configs
  // are combined), with keepalive: otherwise every auth check opens a new TCP connection.
  const signerUpstream = `jwt_cookie_${request.check === "local" ? "verifier" : "signer"}_${slug(host)}`;
  const connection = `$jwt_cookie_connection_${slug(host)}`;
  const variables = IDENTITY_HEADERS.map((name) => [name, `$jwt_cookie_${name.slice("Remote-".length).toLowerCase()}`] as const);

  const toSigner = [
    "proxy_pass_request_body off;",
    'proxy_set_header Content-Length "";',
    "proxy_http_version 1.1;",
    'proxy_set_header Connection "";',
    `proxy_set_header Host ${signerUrl.host};`,
    'proxy_set_header Accept-Encoding "";',
    `proxy_set_header X-Forwarded-Proto ${scheme};`,
    `proxy_set_header X-Forwarded-Host ${forwardedHost};`,
    "proxy_set_header X-Forwarded-Uri $request_uri;",
    "proxy_set_header X-Forwarded-Method $request_method;",
    // nginx does not check the signer's certificate unless told to; an unchecked TLS peer
    // could answer 200 with any Remote-User.
    ...(signerHttps
      ? [
          "proxy_ssl_server_name on;",
          `proxy_ssl_name ${signerUrl.hostname};`,
          "proxy_ssl_verify on;",
          "proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
        ]
      : []),
  ];
  const who = request.check === "local" ? "The local verifier" : "The signer";
  // --check local: nginx reuses the verifier's approvals for as long as its X-Accel-Expires
  // says (PROXY_APPROVAL_CACHE, 5 s by default). The signer's /verify sends none, and its
  // deny-list answers at once, so --check signer caches nothing.
  const cache =
    request.check === "local"
      ? {
          zone: `jwt_cookie_approvals_${slug(host)}`,
          notApproval: `$jwt_cookie_not_approval_${slug(host)}`,
        }
      : undefined;
  const cacheHttp = cache
    ? `
# nginx reuses the verifier's approvals (200) for as long as the verifier's X-Accel-Expires
# says: PROXY_APPROVAL_CACHE, 5 s by default, never past the token's exp + leeway; so a
# sign-out reaches this host within the verifier's REVOCATIONS_POLL + PROXY_APPROVAL_CACHE
# (10 s + 5 s), counted from the verifier's check: it tells the last second as a Unix time,
# so nginx and the verifier must read the same clock (this machine, or NTP). Refusals (401,
# 403) are never cached. Filed under this host and the exact Cookie and Authorization headers
# (the cache files hold them: readable by nginx's worker user only). PROXY_APPROVAL_CACHE=0
# on the verifier: nothing is reused.
# nginx creates the last level of ${request.nginxCacheDir} (owned by its worker user).
${approvalCachePath(request.nginxCacheDir, cache.zone, { zoneMb: 1, maxSizeMb: 16, inactiveSeconds: 120 })}

${notApprovalMap(cache.notApproval, "the verifier")}
`
    : "";
  // A proxy_cache in the site's http { } would apply here too, under a key that is the same
  // for every visitor (the subrequest's URI): one approval would let anyone in.
  const noCache = ["# Never the site's own proxy_cache: its key would be the same for every visitor.", "proxy_cache off;"];
  const cacheLines = cache
    ? approvalCacheDirectives({
        ...cache,
        keyComment: [
          "The host comes again after the client's headers: nginx finds an entry by the key's",
          "MD5, and a collision built from chosen headers cannot carry over a different ending.",
        ],
        key: `${forwardedHost}\\n$http_authorization\\n$http_cookie\\n${forwardedHost}`,
        what: "the verifier",
      })
    : [];

  return `# jwt-cookie: ${host} for people signed in with Home Assistant.
# Generated by: ${commandLine(request)}
# Server blocks for the http context, e.g. /etc/nginx/conf.d/${host}.conf.

# ${who}, with kept-alive connections (nginx resolves its name when it starts).
upstream ${signerUpstream} {
    server ${signerUrl.hostname.includes(":") ? `[${signerUrl.hostname}]` : signerUrl.hostname}:${signerUrl.port || (signerHttps ? 443 : 80)};
    keepalive 16;
}
${cacheHttp}
${serverOpening(request, connection)}

    location / {
        auth_request ${VERIFY_LOCATION};
${indent(variables.map(([name, variable]) => `auth_request_set ${variable} ${headerVariable(name)};`), 2)}
        auth_request_set $jwt_cookie_sign_in ${headerVariable("X-Sign-In-Url")};
        error_page 401 = @jwt_cookie_sign_in;
        error_page 403 = @jwt_cookie_denied;

        # Identity only from the signer: proxy_set_header replaces what the client sent
        # under these names (an empty value sends none), also Remote-Email (never ours, but
        # trusted by upstreams set up for Authelia) and the underscore spellings (Remote_User)
        # that pass when http { } has underscores_in_headers on.
${indent([...variables.map(([name, variable]) => `proxy_set_header ${name} ${variable};`), ...[...FOREIGN_IDENTITY_HEADERS, ...IDENTITY_HEADER_ALIASES].map((name) => `proxy_set_header ${name} "";`)], 2)}
${indent(upstreamHeaderLines(connection), 2)}
        proxy_pass ${upstream.origin};
    }

    # The auth subrequest: 200 + Remote-* headers, or 401 (with X-Sign-In-Url for
    # browsers), or 403 when ACCESS_RULES say no. Clients cannot call it (internal).
    location = ${VERIFY_LOCATION} {
        internal;
${cache ? `        # ${APPROVAL_CACHE_QUERY.param}: this location's cache is keyed by the visitor's own Cookie
        # and Authorization headers (below); only then does the verifier send X-Accel-Expires.
` : ""}        proxy_pass ${signerUrl.protocol}//${signerUpstream}${signerPath}/verify?redirect=false${cache ? `&${APPROVAL_CACHE_QUERY.param}` : ""};
${indent([...toSigner, ...(cacheLines.length ? cacheLines : noCache)], 2)}
    }

    # No valid session: browsers go to the sign-in page, scripts get 401.
    location @jwt_cookie_sign_in {
        default_type application/json;
        if ($jwt_cookie_sign_in = "") {
            return 401 '{"error":"no_session","message":"No valid session: sign in through Home Assistant."}\\n';
        }
        return 302 $jwt_cookie_sign_in;
    }

    # Signed in but not allowed here (ACCESS_RULES): the signer's own 403 page.
    location @jwt_cookie_denied {
        rewrite ^ ${signerPath}/verify? break;
        proxy_pass ${signerUrl.protocol}//${signerUpstream};
${indent([...toSigner, ...noCache], 2)}
    }
}
`;
}
