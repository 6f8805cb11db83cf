/*
 * jwt-cookie: the session check inside nginx (njs 0.7.9, libnginx-mod-http-js), with
 * public keys only and no request to the signer. It is the same check as the signer's
 * /verify (worker/checking/session-check.ts), written again in the JavaScript njs runs;
 * the proxy contract tests (test/proxies/) keep the two equal, row for row:
 *   several values under our name by the rule of checking/presented-session.ts (or
 *   "Authorization: Bearer <JWT>" when there is none); header alg ES256 only,
 *   members alg/typ/kid only, typ JWT if present, kid one of the accepted keys; a raw
 *   64-byte ECDSA signature that verifies; sub/name/roles/exp/iat/nbf/iss/jti/aud of the
 *   right types; exp/nbf/iat with the signer's leeway; iss; aud (string or array);
 *   ACCESS_RULES for this host; identity headers sanitised as the signer does.
 * What it cannot see: the signer's deny-list of signed-out sessions (docs/nginx.md).
 *
 * check() runs in nginx's own check server (jwt-cookie-check.conf), asked by each host's
 * internal /.jwt-cookie/check location, which sends the visitor's Cookie, Authorization and
 * Accept, and as X-Jwt-Cookie-* headers the visitor's method and URI and the host's own
 * values. nginx caches its approvals (proxy_cache): an allowed answer carries
 * X-Accel-Expires, at most approvalCacheSeconds ahead and never up to the moment this
 * check would refuse one of the valid tokens it looked at (their exp + leeway); when the
 * answer could change sooner (a token that is not valid YET), there is none. Refusals carry
 * none and are never cached.
 *
 * Written into the --out directory by `npm run proxy-config`, next to jwt-cookie.json: the
 * signer's settings and public keys, which nginx loads with js_preload_object when it reads
 * its configuration (start, reload) and hands to every request as the global
 * `jwt_cookie_settings`, with no file read per request. (njs 0.7.9 runs this module's top
 * level again for every request, so nothing else here may do work up front.)
 */
/* global jwt_cookie_settings */
var SETTINGS = jwt_cookie_settings;

/** Is `value` in `list`? (A preloaded object's arrays have no Array methods in njs 0.7.9.) */
function contains(list, value) {
  for (var i = 0; i < list.length; i++) if (list[i] === value) return true;
  return false;
}
var MAX_TOKEN_LENGTH = 4096;
var MAX_COOKIE_HEADER = 16384;
var MAX_SESSION_COOKIES = 8;
var MAX_HEADER_VALUE = 256;
var MAX_RETURN_URL = 4096;
var ALLOWED_HEADER_MEMBERS = { alg: true, typ: true, kid: true };

/** The accepted key with this kid as SPKI DER bytes, or undefined. */
function keyFor(kid) {
  for (var i = 0; i < SETTINGS.keys.length; i++) {
    var key = SETTINGS.keys[i];
    if (key.kid === kid) {
      var body = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(key.pem);
      return body ? Buffer.from(body[1].replace(/\s+/g, ""), "base64") : undefined;
    }
  }
  return undefined;
}

/* ---- base64url and JSON, strict as worker/tokens/base64url.ts ---- */

var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Bytes, or undefined for padding, other alphabets, impossible lengths, non-zero trailing bits. */
function decodeBytes(input) {
  var length = input.length;
  if (length % 4 === 1) return undefined;
  var out = new Uint8Array(Math.floor((length * 3) / 4));
  var buffer = 0;
  var bits = 0;
  var o = 0;
  for (var i = 0; i < length; i++) {
    var value = ALPHABET.indexOf(input.charAt(i));
    if (value < 0) return undefined;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

var utf8 = new TextDecoder("utf-8", { fatal: true });

/** A base64url JSON object; undefined for anything that is not exactly one. */
function decodeJsonObject(input) {
  var bytes = decodeBytes(input);
  if (!bytes) return undefined;
  try {
    var value = JSON.parse(utf8.decode(bytes));
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch (e) {
    return undefined;
  }
}

/* ---- the JWT (worker/tokens/verify.ts) ---- */

function isStringArray(value) {
  return Array.isArray(value) && value.every(function (v) { return typeof v === "string"; });
}

function has(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function checkTimes(claims, now) {
  var leeway = SETTINGS.leeway;
  if (now > claims.exp + leeway) return "expired";
  if (claims.nbf > now + leeway) return "not_yet_valid";
  if (claims.iat > now + leeway) return "issued_in_future";
  return undefined;
}

/** Reasons that can turn into a valid token later: an answer that saw one must not be cached. */
var NOT_YET = { not_yet_valid: true, issued_in_future: true };

/** Promise of {ok: true, claims} or {ok: false, reason} with the signer's reasons. */
function verify(token, nowSeconds) {
  var fail = function (reason) { return Promise.resolve({ ok: false, reason: reason }); };
  if (token.length > MAX_TOKEN_LENGTH) return fail("malformed");
  var parts = token.split(".");
  if (parts.length !== 3) return fail("malformed");
  var header = decodeJsonObject(parts[0]);
  if (!header) return fail("malformed");
  if (header.alg !== "ES256" || Object.keys(header).some(function (k) { return !has(ALLOWED_HEADER_MEMBERS, k); })) return fail("unsupported_header");
  if (header.typ !== undefined && header.typ !== "JWT") return fail("unsupported_header");
  var spki = typeof header.kid === "string" ? keyFor(header.kid) : undefined;
  if (!spki) return fail("unknown_key");
  var signature = decodeBytes(parts[2]);
  // 64 bytes = r||s; a DER-encoded signature (about 70 bytes) is refused, never converted.
  if (!signature || signature.length !== 64) return fail("bad_signature");
  var ecdsa = { name: "ECDSA", namedCurve: "P-256" };
  return crypto.subtle
    .importKey("spki", spki, ecdsa, false, ["verify"])
    .then(function (key) {
      return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, new TextEncoder().encode(parts[0] + "." + parts[1]));
    })
    .then(function (valid) {
      if (!valid) return { ok: false, reason: "bad_signature" };
      var p = decodeJsonObject(parts[1]);
      if (
        !p ||
        typeof p.sub !== "string" ||
        p.sub === "" ||
        typeof p.name !== "string" ||
        !isStringArray(p.roles) ||
        typeof p.exp !== "number" ||
        typeof p.iat !== "number" ||
        typeof p.nbf !== "number" ||
        typeof p.iss !== "string" ||
        typeof p.jti !== "string" ||
        !(typeof p.aud === "string" || isStringArray(p.aud))
      ) {
        return { ok: false, reason: "bad_claims" };
      }
      var timeProblem = checkTimes(p, nowSeconds);
      if (timeProblem) return { ok: false, reason: timeProblem };
      if (p.iss !== SETTINGS.issuer) return { ok: false, reason: "wrong_issuer" };
      var audiences = typeof p.aud === "string" ? [p.aud] : p.aud;
      if (!audiences.some(function (a) { return contains(SETTINGS.audience, a); })) return { ok: false, reason: "wrong_audience" };
      return { ok: true, claims: p };
    });
}

/* ---- which token the request presents (worker/http/cookie.ts, checking/presented-session.ts) ---- */

/** Every value the Cookie header carries under `name`. */
function readCookies(header, name) {
  if (!header || header.length > MAX_COOKIE_HEADER) return [];
  var values = [];
  header.split(";").forEach(function (pair) {
    var eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) return;
    var value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.charAt(0) === '"' && value.charAt(value.length - 1) === '"') value = value.slice(1, -1);
    values.push(value);
  });
  return values;
}

/**
 * The distinct non-empty values under our name, in the order sent, at most
 * MAX_SESSION_COOKIES (worker/http/cookie.ts, readSessionCookies).
 */
function sessionCookies(header, name) {
  var distinct = [];
  readCookies(header, name).forEach(function (value) {
    if (value !== "" && distinct.indexOf(value) < 0) distinct.push(value);
  });
  return distinct.slice(0, MAX_SESSION_COOKIES);
}

/**
 * THE rule for which session a request presents (worker/checking/presented-session.ts, whose
 * header comment states it): every value under our name is verified; those that do not verify
 * are ignored; none valid → refused with the first value's reason; valid values of two users
 * → "ambiguous_cookie"; one user → the highest iat (ties: highest exp, then the first sent).
 * "Authorization: Bearer <JWT>" only when no value under our name was sent. (The signer's
 * deny-list is out of sight here, so "signed out" does not apply.)
 * An accepted session also says until when this answer holds (`stableUntil`, Unix seconds,
 * inclusive): the first moment a valid token expires, or undefined when a presented
 * token is not valid yet (it may become valid and change the answer at any time).
 */
function presentedSession(cookieValues, authorization, nowSeconds) {
  var bearer = /^Bearer +(\S+)\s*$/i.exec(authorization || "");
  var tokens = cookieValues.length > 0 ? cookieValues : bearer ? [bearer[1]] : [];
  if (tokens.length === 0) return Promise.resolve({ ok: false, reason: "no_session" });
  return Promise.all(tokens.map(function (token) { return verify(token, nowSeconds); })).then(function (results) {
    var firstFailure;
    var valid = [];
    var changesLater = false;
    results.forEach(function (result) {
      if (result.ok) valid.push(result.claims);
      else if (firstFailure === undefined) firstFailure = result.reason;
      if (!result.ok && has(NOT_YET, result.reason)) changesLater = true;
    });
    if (valid.length === 0) return { ok: false, reason: firstFailure };
    var chosen = valid[0];
    var firstExp = valid[0].exp;
    for (var i = 1; i < valid.length; i++) {
      var c = valid[i];
      if (c.sub !== valid[0].sub) return { ok: false, reason: "ambiguous_cookie" };
      if (c.iat > chosen.iat || (c.iat === chosen.iat && c.exp > chosen.exp)) chosen = c;
      if (c.exp < firstExp) firstExp = c.exp;
    }
    // checkTimes accepts while now <= exp + leeway.
    return { ok: true, claims: chosen, stableUntil: changesLater ? undefined : firstExp + SETTINGS.leeway };
  });
}

/* ---- ACCESS_RULES for this host (worker/http/access-rules.ts; the generator picked the rule) ---- */

function decideAccess(rule, host, claims) {
  if (!rule) return { allowed: true };
  if (rule.users && rule.users.indexOf(claims.sub) < 0) {
    return { allowed: false, reason: claims.name + " is not one of the users allowed on " + host + "." };
  }
  if (rule.roles && !rule.roles.some(function (role) { return claims.roles.indexOf(role) >= 0; })) {
    return { allowed: false, reason: host + " needs the role " + rule.roles.join(" or ") + "." };
  }
  return { allowed: true };
}

/* ---- identity headers (worker/http/identity-headers.ts) ---- */

/**
 * Control characters dropped, non-ASCII and "%" percent-encoded, at most 256 bytes, cut
 * between characters (never inside one character's %XX escapes).
 */
function headerSafe(value) {
  var out = "";
  for (var i = 0; i < value.length; ) {
    var code = value.codePointAt(i);
    var ch = String.fromCodePoint(code);
    i += ch.length;
    if (code < 0x20 || code === 0x7f) continue;
    // A lone surrogate becomes U+FFFD, as the signer writes it (njs's JSON.parse already
    // turns "\ud800" into U+FFFD; this keeps the rule even if it did not).
    var piece = code >= 0xd800 && code <= 0xdfff ? "%EF%BF%BD" : code > 0x7e || ch === "%" ? encodeURIComponent(ch) : ch;
    if (out.length + piece.length > MAX_HEADER_VALUE) break;
    out += piece;
  }
  return out;
}

function identityHeaders(claims) {
  return {
    "Remote-User": headerSafe(claims.sub),
    "Remote-Name": headerSafe(claims.name),
    "Remote-Groups": headerSafe(claims.roles.filter(function (r) { return /^[A-Za-z0-9_-]+$/.test(r); }).join(",")),
  };
}

/* ---- where to come back after signing in (worker/http/redirect-allowlist.ts) ---- */

// Control characters, whitespace and backslashes (and, here, any byte beyond ASCII, which
// nginx hands over undecoded): no rd at all, as the signer refuses such a target.
var FORBIDDEN = /[\u0000-\u0020\u007f-\uffff\\]/;

function percentEncode(text, set) {
  var out = "";
  for (var i = 0; i < text.length; i++) {
    var ch = text.charAt(i);
    out += set.indexOf(ch) >= 0 ? "%" + ch.charCodeAt(0).toString(16).toUpperCase() : ch;
  }
  return out;
}

function isDot(segment) {
  return segment === "." || segment.toLowerCase() === "%2e";
}

function isDoubleDot(segment) {
  var s = segment.toLowerCase();
  return s === ".." || s === ".%2e" || s === "%2e." || s === "%2e%2e";
}

/** The request target as the WHATWG URL parser writes it (dot segments resolved, the few characters it escapes escaped). */
function normalisedTarget(uri) {
  var hashAt = uri.indexOf("#");
  var fragment = hashAt >= 0 ? uri.slice(hashAt) : "";
  var rest = hashAt >= 0 ? uri.slice(0, hashAt) : uri;
  var queryAt = rest.indexOf("?");
  var query = queryAt >= 0 ? rest.slice(queryAt) : "";
  var path = queryAt >= 0 ? rest.slice(0, queryAt) : rest;
  var segments = path.split("/").slice(1);
  var out = [];
  segments.forEach(function (segment, i) {
    var last = i === segments.length - 1;
    if (isDoubleDot(segment)) {
      out.pop();
      if (last) out.push("");
    } else if (isDot(segment)) {
      if (last) out.push("");
    } else {
      out.push(percentEncode(segment, '"<>`{}'));
    }
  });
  return "/" + out.join("/") + percentEncode(query, "\"<>'") + percentEncode(fragment, '"<>`');
}

function returnTo(origin, uri) {
  if (!origin || !uri || uri.charAt(0) !== "/") return undefined;
  var target = origin + uri;
  if (target.length > MAX_RETURN_URL || FORBIDDEN.test(target)) return undefined;
  return origin + normalisedTarget(uri);
}

/* ---- the handlers ---- */

function isBrowserNavigation(method, accept) {
  return (method === "GET" || method === "HEAD") && (accept || "").indexOf("text/html") >= 0;
}

function signInUrl(target) {
  return SETTINGS.signInOrigin + "/login" + (target ? "?rd=" + encodeURIComponent(target) : "");
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, function (ch) { return "&#" + ch.charCodeAt(0) + ";"; });
}

function parsedRule(text) {
  return text ? JSON.parse(text) : undefined;
}

/**
 * Until when nginx may reuse this approval (X-Accel-Expires "@<Unix seconds>", inclusive),
 * or undefined: never past approvalCacheSeconds, and one second short of the first moment
 * the check would answer otherwise (nginx's clock is read once per event-loop turn, so it
 * may lag this one).
 */
function approvalExpiry(session, now) {
  if (session.stableUntil === undefined) return undefined;
  var until = Math.min(now + SETTINGS.approvalCacheSeconds, session.stableUntil - 1);
  return until > now ? until : undefined;
}

/**
 * The check server's /check (asked by each host's internal /.jwt-cookie/check, which sets
 * the X-Jwt-Cookie-* headers): 200 with Remote-* headers (and X-Accel-Expires: nginx may
 * cache it), or 401 (X-Jwt-Cookie-Refusal = the reason; X-Sign-In-Url for browser
 * navigations), or 403 (X-Jwt-Cookie-Denied = the reason, URI-encoded). The host's named
 * locations turn 401/403 into the visitor's answer.
 */
function check(r) {
  var now = Math.floor(Date.now() / 1000);
  var visitor = r.headersIn;
  var browser = isBrowserNavigation(visitor["X-Jwt-Cookie-Method"], visitor.Accept);
  presentedSession(sessionCookies(r.variables.http_cookie, SETTINGS.cookieName), visitor.Authorization, now)
    .then(function (session) {
      if (!session.ok) {
        r.headersOut["X-Jwt-Cookie-Refusal"] = session.reason;
        if (browser) r.headersOut["X-Sign-In-Url"] = signInUrl(returnTo(visitor["X-Jwt-Cookie-Return-Origin"], visitor["X-Jwt-Cookie-Uri"]));
        r.return(401);
        return;
      }
      var decision = decideAccess(parsedRule(visitor["X-Jwt-Cookie-Rule"]), visitor["X-Jwt-Cookie-Host"], session.claims);
      if (!decision.allowed) {
        r.headersOut["X-Jwt-Cookie-Denied"] = encodeURIComponent(decision.reason);
        r.return(403);
        return;
      }
      var headers = identityHeaders(session.claims);
      Object.keys(headers).forEach(function (name) { r.headersOut[name] = headers[name]; });
      var expiry = approvalExpiry(session, now);
      if (expiry !== undefined) r.headersOut["X-Accel-Expires"] = "@" + expiry;
      r.return(200);
    })
    .catch(function (error) {
      r.error("jwt-cookie: check failed: " + error);
      r.headersOut["X-Jwt-Cookie-Refusal"] = "malformed";
      r.return(401);
    });
}

function json(r, status, error, message) {
  r.headersOut["Cache-Control"] = "no-store";
  r.headersOut["Content-Type"] = "application/json";
  r.return(status, JSON.stringify({ error: error, message: message }));
}

/** error_page 401: 302 to the sign-in page for browser navigations, 401 JSON otherwise. */
function signIn(r) {
  var url = r.variables.jwt_cookie_sign_in;
  if (url) {
    r.headersOut["Cache-Control"] = "no-store";
    r.return(302, url);
    return;
  }
  var reason = r.variables.jwt_cookie_refusal || "no_session";
  json(r, 401, reason === "no_session" ? "no_session" : "invalid_session", "No valid session (" + reason + "): sign in through Home Assistant.");
}

/** error_page 403: ACCESS_RULES said no; a page for browsers, JSON for scripts. */
function denied(r) {
  var reason = decodeURIComponent(r.variables.jwt_cookie_denied || "");
  if (isBrowserNavigation(r.variables.request_method, r.headersIn.Accept)) {
    r.headersOut["Cache-Control"] = "no-store";
    r.headersOut["Content-Type"] = "text/html; charset=UTF-8";
    r.return(
      403,
      '<!doctype html><meta charset="utf-8"><title>Access denied</title><h1>Access denied</h1><p>' +
        escapeHtml(reason) +
        "</p><p>Ask your Home Assistant administrator for access.</p>",
    );
    return;
  }
  json(r, 403, "access_denied", reason);
}

export default { check: check, signIn: signIn, denied: denied };
