/**
 * nginx, --check native: nginx checks the cookie itself with njs (libnginx-mod-http-js,
 * njs 0.7.9) and the signer's public keys, no request to the signer per page view. The
 * njs script (njs/jwt_cookie.js) is the signer's check written again for njs; the signer's
 * settings and public keys (SPKI PEM, current and previous) are in jwt-cookie.json, which
 * nginx loads once per (re)load with js_preload_object. Everything per host (the host, its
 * ACCESS_RULES rule, where a browser may come back to) is written into the server block.
 *
 * njs's js_set cannot wait for WebCrypto, so the check is an auth_request subrequest; it
 * goes to nginx's own check server (NJS_CHECK_SERVER_FILE, one for every host in the --out
 * directory, on loopback) whose js_content awaits crypto.subtle and answers 200/401/403
 * with headers that auth_request_set picks up; error_page 401/403 then answer the visitor.
 *
 * njs 0.7.9 keeps nothing between requests (a fresh VM each, no shared dict), so the check
 * would import the key and verify the signature on every request. Instead nginx remembers
 * the check's approvals with its own proxy_cache: the same Cookie and Authorization bytes,
 * for the same host and rule, under the same keys, settings and script (a version hash)
 * skip njs until the approval's X-Accel-Expires, which the check sets to at most
 * APPROVAL_CACHE_SECONDS and never past the moment it would refuse the token for its exp.
 * Refusals are never cached. The security argument is in the check server file's comment
 * and docs/nginx.md.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { allowedRedirect } from "../../worker/http/redirect-allowlist.js";
import { VERIFY_LEEWAY_SECONDS } from "../../worker/tokens/verify.js";
import { approvalCacheDirectives, approvalCachePath, notApprovalMap } from "./nginx-approval-cache.js";
import { indent, serverOpening, upstreamHeaderLines, visitorAuthority } from "./nginx.js";
import { commandLine, FOREIGN_IDENTITY_HEADERS, IDENTITY_HEADER_ALIASES, IDENTITY_HEADERS, listenText, slug, type ProxyConfigRequest, type ProxySettings } from "./request.js";
import type { SignerKey } from "./signer-keys.js";

export const NJS_SCRIPT_FILE = "jwt_cookie.js";
export const NJS_SETTINGS_FILE = "jwt-cookie.json";
/** The http-level part every host's server block relies on: the check server and the approval cache. */
export const NJS_CHECK_SERVER_FILE = "jwt-cookie-check.conf";
/** The longest an approval is remembered, even for a token that is valid much longer. */
export const APPROVAL_CACHE_SECONDS = 60;
const CHECK_LOCATION = "/.jwt-cookie/check";
const CHECK_UPSTREAM = "jwt_cookie_check";
const APPROVAL_ZONE = "jwt_cookie_approvals";
const SETTINGS_VERSION = "$jwt_cookie_settings_version";
const NOT_APPROVAL = "$jwt_cookie_not_approval";

/** The njs script, as it is in the repository. */
export function njsScript(): string {
  return readFileSync(new URL("./njs/jwt_cookie.js", import.meta.url), "utf8");
}

/** The signer-wide settings and keys the script gets (the same for every protected host). */
export function njsSettings(request: ProxyConfigRequest, settings: ProxySettings, keys: SignerKey[]): string {
  const body = {
    cookieName: settings.cookieName,
    issuer: settings.issuer,
    audience: settings.audience,
    leeway: VERIFY_LEEWAY_SECONDS,
    approvalCacheSeconds: APPROVAL_CACHE_SECONDS,
    signInOrigin: request.publicUrl,
    keys: keys.map(({ kid, pem }) => ({ kid, pem })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/**
 * What every cached approval is filed under besides the request's own headers: the script
 * and the settings file (keys, issuer, audience, leeway, cache limit), as nginx loads them
 * together on (re)load. A new key set, settings or script means new cache keys.
 */
export function settingsVersion(script: string, settingsJson: string): string {
  return createHash("sha256").update(script).update("\0").update(settingsJson).digest("hex").slice(0, 32);
}

/**
 * NJS_CHECK_SERVER_FILE: the approval cache, the version its keys carry, and the check
 * server itself. Written with the keys (the version depends on them), one for every host
 * that shares the --out directory.
 */
export function nginxCheckServerConfig(request: ProxyConfigRequest, version: string): string {
  const { nginxDir, nginxCacheDir } = request;
  const listen = listenText(request.nginxCheckListen);
  return `# jwt-cookie: nginx's own cookie check (njs) and the cache of its approvals, for every
# host whose server block is in ${nginxDir}. Written with the signer's keys by every
# npm run proxy-config -- nginx --check native --out ${nginxDir} (the last run's copy counts).
#
# What the approval cache changes (docs/nginx.md): each host's /.jwt-cookie/check asks the
# server below and caches its 200 (allowed, with the identity headers) under the exact
# Cookie and Authorization headers, the host, its ACCESS_RULES rule and the version below.
# - An approval ends at min(${APPROVAL_CACHE_SECONDS} s, one second before the token's exp + leeway):
#   never used after the check itself would refuse the token as expired.
# - The version changes whenever the generator writes other keys, settings or another
#   script: after a key rotation (generator + reload) no old approval is found again.
# - A different Cookie header (another value, another order, an extra cookie) is another
#   cache key and is checked afresh.
# - Refusals (401, 403) are never cached; nor is any answer with Set-Cookie or Vary.
# Like the check itself, the cache cannot see sign-outs: a copied cookie works until its
# exp + the 10 s leeway.
# nginx creates the last level of ${nginxCacheDir} (owned by its worker user).

${approvalCachePath(nginxCacheDir, APPROVAL_ZONE, { zoneMb: 2, maxSizeMb: 64, inactiveSeconds: APPROVAL_CACHE_SECONDS * 2 })}

map "" ${SETTINGS_VERSION} {
    default "${version}";
}

${notApprovalMap(NOT_APPROVAL, "the check")}

upstream ${CHECK_UPSTREAM} {
    server ${listen};
    keepalive 8;
}

# The check (njs), on loopback only; each host's server block sends it the visitor's
# Cookie, Authorization, Accept, method and URI, and the host's own values. It answers
# 200 + Remote-* headers, 401 (+ X-Sign-In-Url for browsers), or 403 when ACCESS_RULES say no.
server {
    listen ${listen};
    server_name jwt-cookie-check;
    access_log off;
    large_client_header_buffers 4 32k;
    js_import jwt_cookie from ${nginxDir}/${NJS_SCRIPT_FILE};
    js_preload_object jwt_cookie_settings from ${nginxDir}/${NJS_SETTINGS_FILE};

    location = /check {
        js_content jwt_cookie.check;
    }

    location / {
        return 404;
    }
}
`;
}

function variable(name: string): string {
  return `$jwt_cookie_${name.slice("Remote-".length).toLowerCase()}`;
}

export function nginxNativeConfig(request: ProxyConfigRequest, settings: ProxySettings): string {
  const { host, upstream, nginxDir } = request;
  const { scheme, authority } = visitorAuthority(request);
  const connection = `$jwt_cookie_connection_${slug(host)}`;
  // Decided here, once, with the signer's own rule: may a browser come back to this host
  // after signing in? Only the path and query vary per request (the script checks those).
  const origin = `${scheme}://${authority}`;
  const returnOrigin = allowedRedirect(`${origin}/`, settings.redirectPolicy) !== undefined ? origin : "";
  const rule = settings.accessRule ? JSON.stringify({ users: settings.accessRule.users, roles: settings.accessRule.roles }) : "";

  return `# jwt-cookie: ${host} for people signed in with Home Assistant.
# Generated by: ${commandLine(request)}
# nginx checks the cookie itself (njs) with the signer's public keys: no request to the
# signer per page view. Needs the njs module, loaded in the main nginx.conf (Debian:
# apt install libnginx-mod-http-js loads it via /etc/nginx/modules-enabled), or:
#   load_module modules/ngx_http_js_module.so;
# and in nginx.conf's http { } block:  include ${nginxDir}/*.conf;
# The signer's settings and public keys are in ${nginxDir}/${NJS_SETTINGS_FILE}, read when
# nginx (re)loads: after a key rotation, run the generator again and reload nginx. It cannot
# see sign-outs: a copied cookie stays valid until its exp + 10 s (TOKEN_TTL); docs/nginx.md.
# The check runs in nginx's own check server, ${nginxDir}/${NJS_CHECK_SERVER_FILE}
# (written with the keys), which also holds the cache of its approvals.

${serverOpening(request, connection)}
    js_import jwt_cookie from ${nginxDir}/${NJS_SCRIPT_FILE};
    js_preload_object jwt_cookie_settings from ${nginxDir}/${NJS_SETTINGS_FILE};

    location / {
        auth_request ${CHECK_LOCATION};
${indent(IDENTITY_HEADERS.map((name) => `auth_request_set ${variable(name)} $sent_http_${name.toLowerCase().replace(/-/g, "_")};`), 2)}
        auth_request_set $jwt_cookie_sign_in $sent_http_x_sign_in_url;
        auth_request_set $jwt_cookie_refusal $sent_http_x_jwt_cookie_refusal;
        auth_request_set $jwt_cookie_denied $sent_http_x_jwt_cookie_denied;
        error_page 401 = @jwt_cookie_sign_in;
        error_page 403 = @jwt_cookie_denied;

        # Identity only from the check: proxy_set_header replaces what the client sent
        # under these names (an empty value sends none), also Remote-Email (never ours, but
        # trusted by upstreams set up for Authelia) and the underscore spellings (Remote_User)
        # that pass when http { } has underscores_in_headers on.
${indent([...IDENTITY_HEADERS.map((name) => `proxy_set_header ${name} ${variable(name)};`), ...[...FOREIGN_IDENTITY_HEADERS, ...IDENTITY_HEADER_ALIASES].map((name) => `proxy_set_header ${name} "";`)], 2)}
${indent(upstreamHeaderLines(connection), 2)}
        proxy_pass ${upstream.origin};
    }

    # The check: nginx's own check server (njs, ${NJS_CHECK_SERVER_FILE}), whose approvals
    # nginx remembers (see there). Only the headers set here reach it; clients cannot call
    # this location (internal) nor set the host's values.
    location = ${CHECK_LOCATION} {
        internal;
        proxy_pass http://${CHECK_UPSTREAM}/check;
        proxy_method GET;
        proxy_http_version 1.1;
        proxy_pass_request_headers off;
        proxy_pass_request_body off;
        proxy_set_header Connection "";
        proxy_set_header Cookie $http_cookie;
        proxy_set_header Authorization $http_authorization;
        proxy_set_header Accept $http_accept;
        proxy_set_header X-Jwt-Cookie-Method $request_method;
        proxy_set_header X-Jwt-Cookie-Uri $request_uri;
        proxy_set_header X-Jwt-Cookie-Host "${authority}";
        proxy_set_header X-Jwt-Cookie-Rule '${rule}';
        proxy_set_header X-Jwt-Cookie-Return-Origin "${returnOrigin}";
${indent(
  approvalCacheDirectives({
    zone: APPROVAL_ZONE,
    keyComment: [
      "The host and its rule come again after the client's headers: nginx finds an entry",
      "by the key's MD5, and a collision built from chosen headers cannot carry over a",
      "different ending, so no approval of one host can be found under another's key.",
    ],
    key: `${SETTINGS_VERSION}\\n${authority}\\n${rule}\\n$http_authorization\\n$http_cookie\\n${authority}\\n${rule}`,
    notApproval: NOT_APPROVAL,
    what: "the check",
  }),
  2,
)}
    }

    # No valid session: browsers go to the sign-in page, scripts get 401 JSON.
    location @jwt_cookie_sign_in {
        js_content jwt_cookie.signIn;
    }

    # Signed in but not allowed here (ACCESS_RULES): a 403 page, or 403 JSON for scripts.
    location @jwt_cookie_denied {
        js_content jwt_cookie.denied;
    }
}
`;
}
