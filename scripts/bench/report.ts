/**
 * Turns the measurements into the table printed on the terminal and into
 * docs/benchmarks.md: results, machine, command, method, and for every missed target by
 * how much and the likely why (worked out from the figures of this same run).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Plan, VariantStats } from "./ab.js";
import { ratioOfRounds } from "./ab.js";
import type { BundleSize } from "./bundles.js";
import type { CryptoResult } from "./crypto.js";
import { APP_BARE, APP_SESSION, APP_VERIFY, type Diagnostic } from "./diagnostics.js";
import type { LookupResult } from "./lookups.js";
import type { Machine } from "./machine.js";
import type { GateResult } from "./gate.js";
import { PROXY_BINARY, type ProxyFailure, type ProxyResult } from "./proxies.js";
import { APPROVAL_CACHE_SECONDS } from "../proxy-config/nginx-native.js";
import type { SignerLoadResult } from "./signer-load.js";
import type { VerifierLoadResult } from "./verifier.js";
import { atLeast, atMostBytes, exactly, ratioText, TARGETS, type Judgement } from "./targets.js";

export const COMMAND = "npm run bench";
export const COMMAND_EXPANDED = "node --experimental-websocket --import tsx scripts/bench.ts";

export interface BenchResults {
  /** The parts this run was asked for (all of them unless --only). */
  parts: readonly string[];
  machine: Machine;
  loadStart: number;
  loadEnd: number;
  durationS: number;
  plan: Plan;
  cryptoPlan: { warmupMs: number; rounds: number; roundMs: number };
  signers: SignerLoadResult[];
  crypto: CryptoResult | undefined;
  lookups: LookupResult[];
  bundles: BundleSize[];
  proxies: Array<ProxyResult | ProxyFailure>;
  diagnostics: Diagnostic[];
  /** Part 7 (issue 10), when it ran. */
  gate?: GateResult | undefined;
  /** Part 8 (issue 9), when it ran. */
  verifier?: VerifierLoadResult | undefined;
  /** Parts that could not run, with the reason. */
  failures: string[];
}

export interface Row {
  part: string;
  check: string;
  a: string;
  b: string;
  value: string;
  judgement: Judgement;
  why?: string;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const us = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} µs`;
/** Extra time per request of `slow` over `fast`, from their rates. */
const extraUs = (slow: number, fast: number) => 1e6 / slow - 1e6 / fast;
const diag = (results: BenchResults, start: string) => results.diagnostics.find((d) => d.what.startsWith(start))?.microseconds;

function unexpectedNote(stats: VariantStats[]): string {
  const notes = stats
    .filter((s) => Object.keys(s.unexpected).length > 0 || s.errors > 0)
    .map((s) => `${s.key}: ${JSON.stringify(s.unexpected)}${s.errors ? `, ${s.errors} errors (${s.errorMessages.join("; ")})` : ""}`);
  return notes.length ? ` Unexpected answers (not counted): ${notes.join("; ")}.` : "";
}

function verifyWhy(r: SignerLoadResult, results: BenchResults, ratio: number): string {
  const extra = extraUs(r.verify.median, r.bare.median);
  const noKv = results.signers.find((s) => s.server === "workerd (no KV)");
  if (r.server === "workerd" && noKv) {
    const noKvRatio = ratioOfRounds(noKv.verify.rates, noKv.bare.rates);
    return (
      `With the REVOKED_SESSIONS KV binding, /verify checks the deny-list in the isolate's memory first and asks KV about ` +
      `a session at most once per 10 s (tokens/revocation-list.ts, NOT_REVOKED_CACHE_MS), so nearly every request of this ` +
      `run is answered from memory. In Miniflare a KV read is a call to its local KV service (another worker in workerd, ` +
      `backed by SQLite). /verify costs about ${us(extra)} more per request than /bare here; the same server without the ` +
      `KV binding gives ${noKvRatio.toFixed(2)}. Under Miniflare a bare request already costs ${us(1e6 / r.bare.median)} ` +
      `(its entry worker and the loopback hop) on one isolate thread, so the ratio moves by several hundredths between ` +
      `runs on this shared machine.`
    );
  }
  const base =
    `No cryptography and no check work here: the bench sends the same cookie every time, so from the second request on ` +
    `/verify answers from the check's remembered approvals (checking/remembered-approvals.ts): the Cookie, Authorization ` +
    `and X-Forwarded-Host headers read, one Map look-up under a short sample of them, the whole request compared, the ` +
    `token's times checked, the key, policy and deny-list versions compared, and one frozen header object per session ` +
    `handed to the Response. The ${us(extra)} per request that /verify costs more than /bare is that; the signer's runtime ` +
    `middleware, which every signer path runs (the runtime lookup and the gated-host test) and which puts Hono's async ` +
    `composition and a promise on the path; the longer request (the Cookie header, about 450 bytes) to parse; and four ` +
    `more response headers (Cache-Control and the Remote-* identity headers) for the server to write and the load ` +
    `generator to read, while /bare has none of it.`;
  if (r.server === "node") {
    const appBare = diag(results, APP_BARE);
    const appVerify = diag(results, APP_VERIFY);
    const inProcess =
      appBare && appVerify
        ? ` Without any network (app.fetch in process), /verify costs ${us(appVerify)} of CPU and /bare ${us(appBare)}: ${us(appVerify - appBare)} of JavaScript per request is the product's.`
        : "";
    return `${base}${inProcess} At ${fmt(r.bare.median)} req/s a bare request costs only ${us(1e6 / r.bare.median)} of wall time here (load generator, server and the kernel's loopback TCP sharing ${results.machine.nproc} cores), so that much JavaScript on the server's single thread shows directly in req/s. Reaching ${TARGETS.verifyVsBare} needs /verify within ${us((1 / TARGETS.verifyVsBare - 1) * (1e6 / r.bare.median))} of /bare.`;
  }
  return `${base} Under Miniflare a bare request already costs ${us(1e6 / r.bare.median)} (its entry worker and loopback hop), and the isolate runs on one thread; ratio ${ratio.toFixed(2)}, against ${TARGETS.verifyVsBare}.`;
}

function sessionWhy(r: SignerLoadResult, results: BenchResults): string {
  const extra = extraUs(r.session.median, r.bare.median);
  const subtleDigest = diag(results, "crypto.subtle.digest");
  const syncDigest = diag(results, "node:crypto createHash");
  const subtleSign = diag(results, "crypto.subtle.sign");
  const syncSign = diag(results, "node:crypto sign");
  const appBare = diag(results, APP_BARE);
  const appSession = diag(results, APP_SESSION);
  const parts = [
    `A warm /session does no cryptography: the identity cache is keyed by the token itself, and the session issuer ` +
      `(tokens/session-issuer.ts) hands back the JWT it issued for the same token less than min(60 s, TTL/10) ago, after ` +
      `a deny-list check. What remains per request is JavaScript: the CORS middleware, the rate limiter, the HA token ` +
      `pre-check's clock checks (what the token says is remembered), the cookie presented by the request (verified from ` +
      `the cache, for the user-switch check), the Set-Cookie and a JSON body: ${us(extra)} more per request than /bare here.`,
  ];
  if (appBare && appSession) parts.push(`In process, without any network, it costs ${us(appSession)} of CPU against ${us(appBare)} for /bare.`);
  if (r.server === "node" && subtleDigest && syncDigest && subtleSign && syncSign) {
    parts.push(
      `For a new session (a token not seen in the last minute), Node adds WebCrypto's cost: each call is a job on libuv's ` +
        `thread pool with a promise round trip; measured in this run, crypto.subtle.sign costs ${us(subtleSign)} of CPU ` +
        `against ${us(syncSign)} for node:crypto's synchronous sign (and crypto.subtle.digest ${us(subtleDigest)} against ` +
        `${us(syncDigest)}, which is why the signer no longer hashes tokens per request). The signer keeps WebCrypto so that ` +
        `one codebase runs on Workers, Node and browsers.`,
    );
  } else if (subtleSign) {
    parts.push(`The ES256 signature is the bulk of it (on Node it costs ${us(subtleSign)} of CPU per call through WebCrypto); workerd calls BoringSSL inline.`);
  }
  return parts.join(" ");
}

function cryptoWhy(kind: "sign" | "verify", results: BenchResults): string {
  const c = results.crypto!;
  const pair = c[kind];
  const extra = extraUs(pair.oursMedian, pair.rawMedian);
  if (kind === "verify") {
    const ours = diag(results, "jose's decode");
    const buffer = diag(results, "the same with Buffer base64url + JSON");
    return (
      `Our verify does ${us(extra)} more per token than the bare crypto.subtle.verify: split the token, check that each part ` +
      `is canonical base64url, look the header up (checked once per distinct header and remembered), then jose's jwtVerify ` +
      `(it decodes and JSON-parses the header again, picks the key from the local JWK set, decodes the signature, ` +
      `concatenates the signing input, verifies, decodes and parses the claims and checks iss, aud and times), our claim ` +
      `shape and time checks, and filling the cache. jose's decoding alone costs ${ours ? us(ours) : "?"} where Buffer's ` +
      `codec + JSON.parse needs ${buffer ? us(buffer) : "?"} (jose uses atob, as it must on Workers); the rest is the ` +
      `checks and the cache, which a bare crypto.subtle.verify does not do.`
    );
  }
  const ours = diag(results, "jose's encode");
  const buffer = diag(results, "the same with Buffer base64url");
  return (
    `signJwt (jose's SignJWT) does ${us(extra)} more per token than the bare crypto.subtle.sign: it copies the claims ` +
    `(structuredClone), JSON-stringifies and base64url-encodes header and claims, encodes the signing input and the ` +
    `signature; jose's base64url (btoa, as it must on Workers, where there is no Buffer) takes ${ours ? us(ours) : "?"} for ` +
    `the parts against ${buffer ? us(buffer) : "?"} with Node's native Buffer base64url.`
  );
}

/** A row comparing two HTTP variants by their req/s ratio against a minimum; `why` is asked only for a miss. */
function ratioRow(part: string, check: string, measured: VariantStats, against: VariantStats, ratio: number, min: number, why: () => string): Row {
  const judgement = atLeast(ratio, min);
  return {
    part,
    check,
    a: `${fmt(measured.median)} req/s`,
    b: `${fmt(against.median)} req/s`,
    value: ratioText(ratio, min),
    judgement,
    ...(judgement.verdict === "missed" ? { why: why() + unexpectedNote([measured, against]) } : {}),
  };
}

export function buildRows(results: BenchResults): Row[] {
  const rows: Row[] = [];
  for (const r of results.signers) {
    const ratio = ratioOfRounds(r.verify.rates, r.bare.rates);
    rows.push(ratioRow("1", `/verify vs /bare, ${r.server}`, r.verify, r.bare, ratio, TARGETS.verifyVsBare, () => verifyWhy(r, results, ratio)));
  }
  for (const r of results.signers) {
    const ratio = ratioOfRounds(r.session.rates, r.bare.rates);
    rows.push(ratioRow("2", `/session (warm) vs /bare, ${r.server}`, r.session, r.bare, ratio, TARGETS.sessionVsBare, () => sessionWhy(r, results)));
  }
  if (results.crypto) {
    for (const kind of ["sign", "verify"] as const) {
      const pair = results.crypto[kind];
      const judgement = atLeast(pair.ratio, TARGETS.cryptoVsRaw);
      rows.push({
        part: "3",
        check: `ES256 ${kind}: ours vs crypto.subtle`,
        a: `${fmt(pair.oursMedian)} /s`,
        b: `${fmt(pair.rawMedian)} /s`,
        value: pair.ratio.toFixed(2),
        judgement,
        ...(judgement.verdict === "missed" ? { why: cryptoWhy(kind, results) } : {}),
      });
    }
  } else if (results.parts.includes("crypto")) {
    rows.push({ part: "3", check: "ES256 sign/verify: ours vs crypto.subtle", a: "—", b: "—", value: "—", judgement: atLeast(undefined, TARGETS.cryptoVsRaw) });
  }
  for (const l of results.lookups) {
    const judgement = exactly(l.perToken, TARGETS.lookupsPerToken);
    const allOk = l.ok === l.requests;
    rows.push({
      part: "4",
      check: `HA lookups per token, ${l.requests} concurrent /session over ${l.tokens} tokens, ${l.server}`,
      a: `${l.authMessages} lookups`,
      b: `${l.ok}/${l.requests} answered 200`,
      value: l.perToken.toFixed(2),
      judgement: allOk ? judgement : { ...judgement, verdict: "missed", miss: `${l.requests - l.ok} requests not answered 200: ${JSON.stringify(l.statuses)}, ${l.errors} errors` },
      ...(judgement.verdict === "missed" || !allOk
        ? { why: "The lookup is single-flight per token digest and cached; a count other than 1 or failed requests mean that guarantee broke under load." }
        : {}),
    });
  }
  for (const b of results.bundles) {
    const isFrontend = b.name === "frontend";
    const judgement = atMostBytes(b.gzipBytes, isFrontend ? TARGETS.frontendGzipBytes : TARGETS.workerGzipBytes);
    rows.push({
      part: "5",
      check: isFrontend ? "dist/jwt-cookie.js, gzip -9" : "Worker bundle (wrangler deploy --dry-run), gzip -9",
      a: b.bytes === undefined ? b.note : `${fmt(b.bytes)} B raw`,
      b: "",
      value: b.gzipBytes === undefined ? "—" : `${fmt(b.gzipBytes)} B`,
      judgement,
      ...(judgement.verdict === "missed"
        ? {
            why: isFrontend
              ? `The frontend bundle (panel, token refresher, signer client, sign-in helpers, with Lit inside) is ${fmt(b.gzipBytes!)} B gzipped.` +
                (b.litCoreGzipBytes
                  ? ` Lit's core alone (LitElement, html, css; rollup + terser like the real build, gzip -9) is ${fmt(b.litCoreGzipBytes)} B, so the project's own code has about ${fmt(TARGETS.frontendGzipBytes - b.litCoreGzipBytes)} B of the budget.`
                  : "") +
                " The frontend was being written while this ran; rerun when it is done."
              : "The Worker bundle is built as wrangler.toml says (minify = true): what remains is Hono, jose, the signer's own code and the embedded frontend bundle.",
          }
        : {}),
    });
  }
  for (const p of results.proxies) {
    if ("error" in p) {
      rows.push({ part: "6", check: p.how, a: "—", b: "—", value: "—", judgement: { verdict: "not measured", target: "no target" }, why: p.error });
      continue;
    }
    rows.push({
      part: "6",
      check: `${p.how} vs the same ${PROXY_BINARY[p.proxy]} without auth`,
      a: `${fmt(p.auth.median)} req/s`,
      b: `${fmt(p.plain.median)} req/s`,
      value: ratioText(p.ratio, proxyTarget(p.proxy)),
      // Issue 9's targets are for the checkers without a hop to the signer per request.
      judgement: proxyTarget(p.proxy) === undefined ? { verdict: "info", target: "no target" } : atLeast(p.ratio, proxyTarget(p.proxy)!),
      why: proxyWhy(p, results) + unexpectedNote([p.auth, p.plain]),
    });
  }
  const g = results.gate;
  if (g) {
    const check = "the Worker as the gate vs a pass-through Worker, workerd";
    rows.push(ratioRow("7", check, g.gate, g.passThrough, g.ratio, TARGETS.gateVsPassThrough, () => gateWhy(g, results)));
  }
  const v = results.verifier;
  if (v) {
    const check = "local verifier /verify vs /bare, node";
    rows.push(ratioRow("8", check, v.verify, v.bare, v.ratio, TARGETS.localVerifierVsBare, () => localVerifierWhy(v, results)));
  }
  return rows;
}

function proxyTarget(kind: ProxyResult["proxy"]): number | undefined {
  if (kind === "nginx-native" || kind === "haproxy") return TARGETS.nativeProxyVsPlain;
  if (kind === "caddy-local" || kind === "nginx-local") return TARGETS.localProxyVsPlain;
  return undefined;
}

function gateWhy(g: GateResult, results: BenchResults): string {
  const extra = extraUs(g.gate.median, g.passThrough.median);
  const workerd = results.signers.find((s) => s.server === "workerd");
  const verify = workerd
    ? ` The check itself is /verify's: in part 1 of this run /verify cost ${us(extraUs(workerd.verify.median, workerd.bare.median))} more than /bare on the same workerd.`
    : "";
  return (
    `The gate costs ${us(extra)} more per request than the pass-through Worker. No cryptography: the cookie is a ` +
    `verifier-cache hit and the deny-list is read from the isolate's memory (KV at most once per session per 10 s). ` +
    `What the gate adds is JavaScript on the isolate's one thread: the product's Hono app (the role middleware, the ` +
    `runtime lookup, the canonical host and the GATED_HOSTS lookup), the session check (Cookie parsing, the ` +
    `verified-token cache, the deny-list, ACCESS_RULES, the identity headers) and the origin request (a copy of the ` +
    `headers with Remote-* removed, the identity headers set and our cookie cut out of Cookie, a new Request), while ` +
    `the pass-through Worker hands the request on as it is.${verify} A pass-through request costs ` +
    `${us(1e6 / g.passThrough.median)} of wall time here (Miniflare's entry worker, the route match, the worker, the ` +
    `origin router and the upstream on loopback, all on the same ${results.machine.nproc} cores as the load generator), ` +
    `so reaching ${TARGETS.gateVsPassThrough} needs the gate within ${us((1 / TARGETS.gateVsPassThrough - 1) * (1e6 / g.passThrough.median))} of it.`
  );
}

/**
 * How part 8's two diagnostic variants split the gap between /bare and /verify: the request,
 * the answer, the route. Each step is the median of its back-to-back per-round ratios (as
 * the target's ratio is), turned into µs over the faster side's median.
 */
function gapSplit(v: VerifierLoadResult): string {
  const step = (slow: VariantStats, fast: VariantStats) => {
    const ratio = ratioOfRounds(slow.rates, fast.rates);
    const extra = (1 / ratio - 1) * (1e6 / fast.median);
    return { ratio: ratio.toFixed(2), cost: extra >= 0.5 ? us(extra) : `nothing measurable (${us(extra)}, within this run's noise)` };
  };
  const request = step(v.bareSameRequest, v.bare);
  const answer = step(v.bareSameAnswer, v.bareSameRequest);
  const route = step(v.verify, v.bareSameAnswer);
  const busy = (st: VariantStats) => us(st.mainThreadUsPerRequest);
  return (
    ` Split in the same rounds by two more bare variants: /bare sent /verify's very request (its ${fmt(v.cookieHeaderBytes)}-byte Cookie header line) ` +
    `ran at ${fmt(v.bareSameRequest.median)} req/s, ${request.ratio} of /bare: the request's size, ${request.cost}. ` +
    `/bare-answer, sent that request and answering with /verify's very headers (${fmt(v.answerBytes)} bytes of them, no work), ran at ${fmt(v.bareSameAnswer.median)} req/s, ` +
    `${answer.ratio} of the previous: the answer's size, ${answer.cost}. /verify against it, ${route.ratio}: the route itself, ${route.cost}. ` +
    `The server runs on the bench's main thread, which was busy (event-loop utilisation, its syscalls included) ${busy(v.bare)} per /bare request, ` +
    `${busy(v.bareSameRequest)} with /verify's request, ${busy(v.bareSameAnswer)} answering /verify's headers and ${busy(v.verify)} per /verify.`
  );
}

function localVerifierWhy(v: VerifierLoadResult, results: BenchResults): string {
  // From the judged ratio (the median of per-round ratios), so that it agrees with the verdict.
  const extra = (1 / v.ratio - 1) * (1e6 / v.bare.median);
  const node = results.signers.find((s) => s.server === "node");
  const signer = node
    ? ` The signer's own /verify on the same kind of server gave ${ratioOfRounds(node.verify.rates, node.bare.rates).toFixed(2)} in part 1 of this run (${us(extraUs(node.verify.median, node.bare.median))} over its /bare).`
    : "";
  const appBare = diag(results, APP_BARE);
  const appVerify = diag(results, APP_VERIFY);
  const inProcess =
    appBare && appVerify
      ? ` In process, without any network, the signer's app spends ${us(appVerify)} of CPU on the same /verify and ${us(appBare)} on /bare (cost diagnostics).`
      : "";
  return (
    `No cryptography and no check work here: the bench sends the same cookie every time, so from the second request on ` +
    `the verifier answers from the check's remembered approvals (checking/remembered-approvals.ts), the same routes/verify.ts ` +
    `and checking/ code the signer runs. The verifier's /verify is one route without middleware and a remembered approval ` +
    `is answered without a promise, so Hono and @hono/node-server take the same synchronous path as for /bare. ` +
    `/verify costs ${us(extra)} more per request than /bare: the route (the runtime lookup; reading the Cookie, Authorization ` +
    `and X-Forwarded-Host headers, straight from Node's parsed header list (http/request-header.ts); the look-up, a short sample of the request as the Map key, then the whole request compared, ` +
    `the token's times and the key, policy and deny-list versions checked), a longer request to parse (the Cookie header) and ` +
    `the answer's headers (Cache-Control, Content-Length and the Remote-* identity headers, against none for /bare's empty chunked answer; ` +
    `X-Accel-Expires goes only to a proxy that asks for it, as the generated nginx config does, not to this /verify as Caddy sends it) for the server to write and the load generator ` +
    `to read.${gapSplit(v)}${signer}${inProcess} At ${fmt(v.bare.median)} req/s a bare request costs ${us(1e6 / v.bare.median)} of ` +
    `wall time here (load generator, server and the kernel's loopback TCP sharing ${results.machine.nproc} cores), so ` +
    `reaching ${TARGETS.localVerifierVsBare} needs /verify within ${us((1 / TARGETS.localVerifierVsBare - 1) * (1e6 / v.bare.median))} of /bare, ` +
    `request and answer included.`
  );
}

function proxyWhy(p: ProxyResult, results: BenchResults): string {
  const extra = us(extraUs(p.auth.median, p.plain.median));
  const cores = `${results.machine.nproc} cores`;
  if (p.proxy === "caddy") {
    return `Authentication costs ${extra} per request: a full HTTP sub-request from Caddy to the signer's /verify for every request, on a kept-alive connection (/verify's 200 carries Content-Length: 0; Caddy's forward_auth never reads a 2xx body and Go reuses no connection whose answer it did not read to the end, so with a chunked 200 every request opened a new connection and Caddy kept 0.25 of its throughput), and the signer's /verify work, on the same ${cores}.`;
  }
  if (p.proxy === "nginx") {
    return `Authentication costs ${extra} per request: an auth_request sub-request to the signer's /verify for every request; the generated config keeps HTTP/1.1 connections to the signer alive (an upstream block with keepalive 16), so the cost is nginx's sub-request machinery plus the signer's /verify work, on the same ${cores}.`;
  }
  const subRequest =
    PROXY_BINARY[p.proxy] === "caddy"
      ? "Caddy's forward_auth, a full reverse_proxy round trip on a kept-alive connection, since the 200 is length-delimited"
      : "nginx's auth_request, over the generated upstream block's kept-alive connections";
  if (p.proxy === "caddy-local" || p.proxy === "nginx-local") {
    const measured = (kind: ProxyResult["proxy"]) => results.proxies.find((q): q is ProxyResult => !("error" in q) && q.proxy === kind);
    const viaSigner = measured(p.proxy === "caddy-local" ? "caddy" : "nginx");
    const standIn = measured(p.proxy === "caddy-local" ? "caddy-stand-in" : "nginx-stand-in");
    const verifier = results.verifier
      ? ` On its own (part 8, in process) the verifier's /verify answered ${fmt(results.verifier.verify.median)} req/s, about ${us(1e6 / results.verifier.verify.median)} of its one thread per request, against the ${extra} that the proxy's authentication costs.`
      : "";
    const ceiling = standIn
      ? ` The ceiling for any checker in Node here: the same config asking a Node process that checks nothing and answers the verifier's very headers (plain node:http) kept ${standIn.ratio.toFixed(2)} of the same ${PROXY_BINARY[p.proxy]} in this run (${us(extraUs(standIn.auth.median, standIn.plain.median))} per request), so of the ${extra} the verifier's own share is the difference.`
      : "";
    const compare = viaSigner ? ` The same ${PROXY_BINARY[p.proxy]} asking the signer instead gave ${viaSigner.ratio.toFixed(2)} in this run.` : "";
    if (p.proxy === "nginx-local") {
      return (
        `Authentication costs ${extra} per request: nginx's auth_request sub-request for every request, answered from nginx's own copy of the verifier's approval ` +
        `(the generated proxy_cache: the verifier's X-Accel-Expires, PROXY_APPROVAL_CACHE of 5 s by default, lets nginx reuse a 200 for the same Cookie header; ` +
        `the bench sends one cookie, so the verifier, a Node process of its own as \`npm run verifier\` runs it, is asked about once per 5 s and a request costs nginx's sub-request and a cache look-up). ` +
        `The price is time: a sign-out reaches this nginx within the verifier's poll (10 s) plus those 5 s.${compare}`
      );
    }
    return (
      `Authentication costs ${extra} per request: a forward-auth sub-request (${subRequest}) ` +
      `to the local verifier's /verify on loopback for every request, and the verifier's work (a Node process of its own, as \`npm run verifier\` runs it), on the same ${cores} as the proxy, the upstream and the load generator. ` +
      `Every authenticated request is two HTTP exchanges for the proxy and one more process woken up.${ceiling}${verifier}${compare}`
    );
  }
  if (p.proxy === "nginx-stand-in") {
    return (
      `A baseline, not a product mode: the generated --check local config, asking instead of the verifier a Node process that checks nothing ` +
      `(scripts/bench/stand-in-checker-process.ts: plain node:http answering 200 with the verifier's very headers, X-Accel-Expires included as the verifier includes it for this config, to any request with a Cookie header). ` +
      `nginx keeps its answers as it keeps the verifier's, so the two rows differ only by noise: with the approval cache, what the checker costs per answer hardly shows.`
    );
  }
  if (p.proxy === "caddy-stand-in") {
    return (
      `A baseline, not a product mode: the generated --check local config, asking instead of the verifier a Node process that checks nothing ` +
      `(scripts/bench/stand-in-checker-process.ts: plain node:http answering 200 with the verifier's very headers to any request with a Cookie header). ` +
      `Its ${extra} per request are the ${PROXY_BINARY[p.proxy]}'s forward-auth sub-request (${subRequest}) and Node's HTTP server in one more process, on the same ${cores}: what every checker written in Node pays here before doing any work.`
    );
  }
  if (p.proxy === "nginx-native") {
    const haproxy = results.proxies.find((q): q is ProxyResult => !("error" in q) && q.proxy === "haproxy");
    const rawVerify = results.crypto ? ` (one ES256 verify through Node's crypto.subtle costs about ${us(1e6 / results.crypto.verify.rawMedian)} of wall time in part 3)` : "";
    const compare = haproxy
      ? ` HAProxy, which likewise verifies each token's signature once (with OpenSSL, its key loaded at start-up) and remembers it, costs ${us(extraUs(haproxy.auth.median, haproxy.plain.median))} per request in this run.`
      : "";
    const njs =
      p.njs && !("error" in p.njs)
        ? ` Measured with the njs CLI (njs ${p.njs.version}, the same library and OpenSSL, ${p.njs.iterations} times each), a miss's cryptography alone is importKey("spki") + verify, ${us(p.njs.importAndVerifyUs)} (the verify alone with a key imported once: ${us(p.njs.verifyUs)}; njs cannot keep an imported key between requests).`
        : p.njs
          ? ` (The njs CLI measurement of a miss's key import and verify failed: ${p.njs.error}.)`
          : "";
    const extraValue = extraUs(p.auth.median, p.plain.median);
    const cost = extraValue > 0 ? `${extra} per request` : `nothing measurable per request (${us(extraValue)}, within this run's noise)`;
    return (
      `Authentication costs ${cost}, all inside nginx's one worker process, and every measured request is an approval-cache hit: the benchmark sends one cookie, ` +
      `and the generated config passes the auth_request sub-request through nginx's proxy_cache in front of nginx's own check server (a second server block on loopback whose js_content runs the njs check), ` +
      `so after the first request the check is answered from the cache (an index in shared memory and a small file in the page cache) and no njs runs: what remains is the sub-request, the cache lookup and the identity headers handed back through auth_request_set. ` +
      `A miss (a Cookie/Authorization header not approved in the last ${APPROVAL_CACHE_SECONDS} s or since a reload with other keys, settings or rules; with one cookie, one request a minute; and every refusal, which is never cached) still runs the whole njs check: ` +
      `a loopback request to the check server, a fresh njs VM (njs 0.7.9 keeps nothing between requests), the SPKI key decoded from its PEM and imported, one ECDSA P-256 verify${rawVerify}, and base64url and JSON decoding and the claim checks in njs's interpreter.` +
      `${njs}${compare} The signer is not involved.`
    );
  }
  return (
    `Authentication costs ${extra} per request, all inside HAProxy: one jwt_header_query (alg), one base64url decode of the payload and at most ${p.claimReads ?? "a dozen"} json_query reads from it (each claim once into a variable) for the claim checks and identity headers, which run on every request (a name of printable ASCII without "%", as the bench user's, is written as it is; any other goes through the signer's encoding, a chain of regular expressions), then the SHA-256 of the whole token and one stick-table lookup. ` +
    `The ES256 signature verification (jwt_verify) runs once per token and HAProxy process: a stick table remembers, by the SHA-256 of the whole token, tokens whose signature verified (only those, so a forged token is verified and refused every time) for 10 minutes or until HAProxy reloads. ` +
    `This benchmark sends one cookie, as a browser does between renewals, so jwt_verify ran for its first request only; a new token (a sign-in, a renewal) pays one jwt_verify on its first request (when it ran on every request, it was most of the cost of authentication). The signer is not involved.`
  );
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

export function renderTable(rows: Row[]): string {
  const header = ["#", "check", "measured", "against", "ratio/value", "target", "verdict"];
  const cells = rows.map((r) => [r.part, r.check, r.a, r.b, r.value, r.judgement.target, r.judgement.verdict + (r.judgement.miss ? ` (${r.judgement.miss})` : "")]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => pad(x, widths[i]!)).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function rates(stats: VariantStats): string {
  return stats.rates.map((r) => fmt(r)).join(", ");
}

export function renderMarkdown(results: BenchResults, rows: Row[]): string {
  const m = results.machine;
  const p = results.plan;
  const lines: string[] = [];
  lines.push(
    "# Benchmarks",
    "",
    `Written by \`${COMMAND}\` (\`${COMMAND_EXPANDED}\`, see \`scripts/bench.ts\` and \`scripts/bench/\`); rerun it rather than editing this file. It is not a test and never part of \`npm test\`.`,
    "",
    "## Run",
    "",
    `- Command: \`${COMMAND}\``,
    `- Date: ${m.date}; run time ${results.durationS.toFixed(0)} s`,
    `- Machine: ${m.nproc} CPUs (nproc), ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.kernel}`,
    `- Node ${m.node}; workerd from miniflare (wrangler 4.86); Caddy, nginx and HAProxy from Debian`,
    `- Load average (1 min): ${results.loadStart} at the start, ${results.loadEnd} at the end. Everything of this run shares the ${m.nproc} cores: the load generator (a worker thread of this process), the Node signer and the upstream (this process's main thread), workerd, the proxies, and anything else running on the machine at the time.`,
    ...(Math.max(results.loadStart, results.loadEnd) > m.nproc
      ? [
          `- **The machine was busy** (load average above ${m.nproc}, i.e. other work queued for the CPUs during this run): absolute figures are depressed and the ratios noisier than usual; look at the per-round figures under Details before drawing conclusions, and rerun on a quiet machine.`,
        ]
      : []),
    "",
    "## Method",
    "",
    `Everything on loopback. HTTP load comes from \`scripts/bench/http-load.ts\`: ${p.concurrency} keep-alive connections, one request in flight on each, raw sockets and a minimal response parser in a worker thread (much cheaper per request than node:http or fetch, so the client takes less of the shared CPU). ` +
      `Each comparison warms every variant up for ${p.warmupMs} ms, then runs ${p.rounds} rounds of ${p.roundMs} ms per variant in alternating order (A B C, C B A, …). ` +
      `A rate is the median over rounds of responses with the expected status per second; a ratio is the median of the per-round ratios, each from measurements taken back to back, so that drift on a busy machine hits both sides alike. ` +
      `The bare route is \`GET /bare\`, put in front of the product's app on the same server (\`scripts/bench/bare-app.ts\`: /bare goes to a one-route app of its own, every other request to the product's app as deployed, not mounted into another; on workerd through \`scripts/bench/bench-worker.ts\`, bundled with \`wrangler deploy --dry-run\` and a temporary wrangler.toml): it answers 200 without touching the runtime. ` +
      `The signer runs with \`RATE_LIMIT=1000000\` and the ban guard opened wide (\`HA_LOGIN_ATTEMPTS_THRESHOLD=off\`, Home Assistant's own default, and \`HA_REJECTIONS_PER_CLIENT=1000\`: the guard counts tokens still in flight as possible rejections, so with its defaults it would hold back all but 2 of part 4's 50 new tokens from one address and answer the rest 429/503) against the Home Assistant test double; /verify sends the cookie from a real POST /session, and /session sends the same Home Assistant access token again and again (warm lookup cache). ` +
      `Crypto: in-process, one operation in flight, ${results.cryptoPlan.rounds} alternating rounds of ${results.cryptoPlan.roundMs} ms; verify uses ${results.crypto?.poolSize ?? "?"} distinct tokens and a fresh verifier for every pass over them (no cache hits), and the raw side gets the same keys and pre-decoded bytes.`,
    "",
    "What parts 6 to 8 measure (issues 9 and 10), each with authenticated requests (a valid cookie from a real POST /session) against the same requests through the same path without the check, in alternating rounds as above:",
    "",
    `- **Proxies (part 6)**: each proxy runs as one process with two sites in front of the same upstream (a node:http server on this process's main thread answering 200 \`ok\`): the authenticated site exactly as \`npm run proxy-config\` generates it, and a minimal pass-through site of the benchmark's own (\`scripts/bench/proxies.ts\`). The ratio is authenticated req/s over the same proxy's req/s without any auth. ` +
      `Targets (issue 9): nginx native (njs; the generator's \`--check native --out DIR\`, included with \`include DIR/*.conf;\` and the njs module loaded in the main config) and HAProxy native (\`jwt_verify\`) ≥ ${TARGETS.nativeProxyVsPlain}; Caddy and nginx asking the local verifier (\`--check local --verifier URL\`; the verifier is its own Node process, started as \`npm run verifier\` starts it, against the Node signer, with its defaults: nginx reuses its approvals for the 5 s of PROXY_APPROVAL_CACHE, Caddy asks it every time) ≥ ${TARGETS.localProxyVsPlain}. Caddy and nginx asking the signer itself (\`--check signer\`, the hop per request that issue 9 removes) have no target and are shown for comparison, as are the same \`--check local\` configs asking a stand-in that checks nothing (a Node process of its own answering the verifier's very headers; \`scripts/bench/stand-in-checker.ts\`): the ceiling of any checker written in Node.`,
    `- **The gate (part 7)**: the Worker with \`GATED_HOSTS\` in workerd (the bench Worker bundle, with PUBLIC_URL, COOKIE_DOMAIN and the REVOKED_SESSIONS KV binding) against a minimal Worker that only does \`fetch(request)\`, both in one Miniflare behind its entry worker (picked by Workers routes for two hostnames) and both sending to the same upstream through the same outbound worker that stands in for Cloudflare's path to the origin (\`scripts/bench/gate.ts\`, the router of the gate tests). Target (issue 10): ≥ ${TARGETS.gateVsPassThrough}.`,
    `- **The local verifier (part 8)**: GET /verify against GET /bare on the same Node server: the verifier's app (\`worker/verifier/\`, fed by the Node signer's keys, check policy and deny-list feed) wrapped by the same \`withBareRoute\` as the signer's, served by @hono/node-server in this process (\`scripts/bench/verifier.ts\`). Target (issue 9): ≥ ${TARGETS.localVerifierVsBare}. Two more variants in the same rounds split the gap, as diagnostics, not targets: GET /bare sent /verify's request (its Cookie header), and GET /bare-answer sent that request and answering with the headers /verify answered (copied once before measuring). For each variant the report also gives how busy the bench's main thread, where the server runs, was per request.`,
    "",
    "## Results",
    "",
    "| # | check | measured | against | ratio / value | target | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.part} | ${mdEscape(r.check)} | ${mdEscape(r.a)} | ${mdEscape(r.b)} | ${r.value} | ${r.judgement.target} | ${r.judgement.verdict}${r.judgement.miss ? `: ${r.judgement.miss}` : ""} |`,
    ),
    "",
  );

  const missed = rows.filter((r) => r.judgement.verdict === "missed" || r.judgement.verdict === "not measured");
  lines.push("## Missed targets", "");
  if (missed.length === 0) lines.push("None.", "");
  for (const r of missed) {
    lines.push(`- **${r.check}**: ${r.value} against ${r.judgement.target}${r.judgement.miss ? `, ${r.judgement.miss}` : ""}. ${r.why ?? ""}`);
  }
  if (missed.length) lines.push("");

  const info = rows.filter((r) => r.judgement.verdict === "info");
  if (info.length) {
    lines.push(
      "## Proxies: the cost of authentication",
      "",
      "No issue sets a number for forward auth to the signer itself (`--check signer`), the hop per request that issue 9 removes, nor for the stand-in checker, a baseline; the rows are here to compare with the local verifier and the native checks. " +
        "The ratio is authenticated req/s over the same proxy's req/s without any auth, same upstream, same requests. " +
        "With `--check signer`, Caddy and nginx ask the Node signer (in this process) on every request; the stand-in rows ask a Node process that checks nothing.",
      "",
      ...info.map((r) => `- **${r.check}**: ${r.value}. ${r.why ?? ""}`),
      "",
    );
  }

  lines.push("## Details", "", "Per-round rates (req/s), median latency p50 / p99 at the concurrency above:", "");
  for (const r of results.signers) {
    for (const [name, s] of [["bare", r.bare], ["verify", r.verify], ["session", r.session]] as const) {
      lines.push(`- ${r.server} ${name}: ${rates(s)}; p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms; ${fmt(s.requests)} requests${unexpectedNote([s])}`);
    }
  }
  for (const px of results.proxies) {
    if ("error" in px) continue;
    for (const [name, s] of [["plain", px.plain], ["auth", px.auth]] as const) {
      lines.push(`- ${px.proxy} ${name}: ${rates(s)}; p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms; ${fmt(s.requests)} requests${unexpectedNote([s])}`);
    }
  }
  for (const px of results.proxies) {
    if ("error" in px || !px.njs) continue;
    lines.push(
      "error" in px.njs
        ? `- njs CLI measurement of nginx native's cryptography: failed (${px.njs.error}).`
        : `- njs CLI (njs ${px.njs.version}), ${px.njs.iterations} times each: importKey("spki") + ES256 verify ${us(px.njs.importAndVerifyUs)}, verify alone with a key imported once ${us(px.njs.verifyUs)}.`,
    );
  }
  if (results.gate) {
    for (const [name, st] of [["pass-through Worker", results.gate.passThrough], ["gate", results.gate.gate]] as const) {
      lines.push(`- workerd ${name}: ${rates(st)}; p50 ${st.p50Ms.toFixed(2)} ms, p99 ${st.p99Ms.toFixed(2)} ms; ${fmt(st.requests)} requests${unexpectedNote([st])}`);
    }
  }
  if (results.verifier) {
    const v = results.verifier;
    for (const [name, st] of [
      ["bare", v.bare],
      ["verify", v.verify],
      ["bare sent /verify's request", v.bareSameRequest],
      ["bare sent /verify's request, answering /verify's headers", v.bareSameAnswer],
    ] as const) {
      lines.push(
        `- local verifier ${name}: ${rates(st)}; p50 ${st.p50Ms.toFixed(2)} ms, p99 ${st.p99Ms.toFixed(2)} ms; ${fmt(st.requests)} requests; main thread busy ${us(st.mainThreadUsPerRequest)} per request${unexpectedNote([st])}`,
      );
    }
  }
  if (results.crypto) {
    for (const kind of ["sign", "verify"] as const) {
      const c = results.crypto[kind];
      lines.push(
        `- ES256 ${kind} per second, ours: ${c.ours.map(fmt).join(", ")}; raw: ${c.raw.map(fmt).join(", ")}. Per CPU-second of this process (cross-check, less sensitive to other processes): ours ${fmt(c.oursPerCpuSecond)}, raw ${fmt(c.rawPerCpuSecond)}, ratio ${(c.oursPerCpuSecond / c.rawPerCpuSecond).toFixed(2)}.`,
      );
    }
  }
  for (const l of results.lookups) {
    lines.push(`- ${l.server}: ${l.requests} POST /session over ${l.tokens} fresh tokens in ${(l.elapsedMs / 1000).toFixed(2)} s: ${l.authMessages} WebSocket auth messages at the Home Assistant double; statuses ${JSON.stringify(l.statuses)}${l.errors ? `, ${l.errors} errors` : ""}.`);
  }
  for (const b of results.bundles) {
    const lit = b.litCoreGzipBytes ? `; Lit's core alone (LitElement, html, css) bundled the same way: ${fmt(b.litCoreGzipBytes)} B gzip` : "";
    lines.push(`- ${b.name}: ${b.note}${b.file ? ` (${b.file})` : ""}${lit}.`);
  }
  lines.push("");

  if (results.diagnostics.length) {
    lines.push("## Cost diagnostics", "", "CPU time of this process per operation (all threads), measured in this run:", "", "| operation | µs / op |", "| --- | --- |");
    for (const d of results.diagnostics) lines.push(`| ${mdEscape(d.what)} | ${d.microseconds.toFixed(1)} |`);
    lines.push("");
  }
  if (results.failures.length) {
    lines.push("## Parts that did not run", "", ...results.failures.map((f) => `- ${f}`), "");
  }
  lines.push(
    "## Caveats",
    "",
    `- ${m.nproc} cores for everything: absolute req/s are low and move with whatever else runs; compare ratios, which come from back-to-back rounds.`,
    "- Miniflare's KV is a local SQLite-backed service, not Cloudflare's edge KV: the workerd /verify figure with KV shows the cost of one KV read per request, not Cloudflare's latency.",
    "- The Node signer, the in-process local verifier of part 8 and the upstream run on the main thread of the benchmark process; the load generator is a separate thread with its own event loop. The local verifier that the proxies ask is a process of its own.",
    "- Miniflare's entry worker, route matching and outbound router are not Cloudflare's edge: the gate and the pass-through Worker both pay them, so the ratio compares the Worker's own work, not Cloudflare's latency to an origin.",
    "",
  );
  return lines.join("\n");
}

/** Hand-kept comparisons across changes (before/after figures); every run keeps them. */
export const HISTORY_HEADING = "## History: before and after";

/** The history section of an existing report, from its heading to the end ("" if none). */
export function keptHistory(previous: string): string {
  const at = previous.indexOf(`\n${HISTORY_HEADING}\n`);
  return at < 0 ? "" : previous.slice(at + 1);
}

export function writeReport(path: string, results: BenchResults, rows: Row[]): void {
  const history = existsSync(path) ? keptHistory(readFileSync(path, "utf8")) : "";
  writeFileSync(path, history ? `${renderMarkdown(results, rows)}\n${history}` : renderMarkdown(results, rows));
}
