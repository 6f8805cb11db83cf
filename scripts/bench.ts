/**
 * npm run bench: the benchmarks of issues 5, 9 and 10, side by side in one run so the ratios hold.
 *   1. /verify vs a bare route on the same server (Node, workerd, workerd without KV)
 *   2. /session with a warm cache vs the same bare route
 *   3. ES256 sign/verify through our code vs raw crypto.subtle
 *   4. Home Assistant lookups per distinct token under 1,000 concurrent /session
 *   5. bundle sizes (frontend, Worker), gzip
 *   6. Caddy / nginx / HAProxy with authentication vs the same proxy without (forward auth to
 *      the signer, forward auth to the local verifier or to a stand-in that checks nothing,
 *      native checks)
 *   7. the Worker as the gate vs a Worker passing requests through with no check, in workerd
 *   8. the local verifier's /verify vs a bare route on the same Node server
 * Prints a table and writes docs/benchmarks.md. Everything on loopback, every loop bounded
 * in count and time, and a hard limit ends the run whatever happens. Not a test.
 *
 * A full run takes about 3 to 4 minutes on 2 shared cores. Partial and short runs, to try
 * parts without the whole:
 *   npm run bench -- --only proxies,gate,verifier [--rounds 4 --round-ms 250 --warmup-ms 300]
 * Parts: bundles, signer (1-2), crypto (3), lookups (4), diagnostics, proxies (6), gate (7),
 * verifier (8). Such a run prints its table and the explanations to stdout and writes
 * nothing: docs/benchmarks.md is written only by a full run with the default plan, so that
 * every figure in it comes from one run, measured the same way.
 */
import { join } from "node:path";
import { startHomeAssistantDouble } from "../test/ha-double/index.js";
import { generateKeyPair } from "../worker/tokens/keys.js";
import { parseBenchArgs } from "./bench/args.js";
import { buildBenchWorker, removeTempDirs, ROOT } from "./bench/build.js";
import { measureBundles, type BundleSize } from "./bench/bundles.js";
import { measureCrypto, type CryptoResult } from "./bench/crypto.js";
import { measureDiagnostics, type Diagnostic } from "./bench/diagnostics.js";
import { LoadGenerator } from "./bench/http-load.js";
import { measureGate, type GateResult } from "./bench/gate.js";
import { measureLookups, type LookupResult } from "./bench/lookups.js";
import { load, machine } from "./bench/machine.js";
import { measureProxies, type ProxyFailure, type ProxyResult } from "./bench/proxies.js";
import { buildRows, COMMAND, renderTable, writeReport, type BenchResults } from "./bench/report.js";
import { measureSigner, signIn, type SignerLoadResult } from "./bench/signer-load.js";
import { benchEnv, startNodeBenchServer, startWorkerdBenchServer, type BenchServer } from "./bench/signers.js";
import { startUpstream } from "./bench/upstream.js";
import { startStandInChecker } from "./bench/stand-in-checker.js";
import { APPROVAL_CACHE_QUERY } from "../worker/routes/verify.js";
import { measureVerifier, startVerifierBenchServer, startVerifierProcess, verifyAnswerHeaders, type VerifierLoadResult } from "./bench/verifier.js";

const args = parseBenchArgs(process.argv.slice(2));
if (!args.ok) {
  console.error(`[bench] ${args.error}`);
  process.exit(2);
}
const { parts: only, plan, complete } = args;
const runs = (name: (typeof only)[number]) => only.includes(name);

const HARD_LIMIT_MS = 10 * 60_000;
const hardLimit = setTimeout(() => {
  console.error(`[bench] still running after ${HARD_LIMIT_MS / 1000} s: giving up.`);
  process.exit(1);
}, HARD_LIMIT_MS);
hardLimit.unref();

const cryptoPlan = { warmupMs: 300, rounds: 20, roundMs: 120 };
const started = performance.now();
const loadStart = load();
const log = (message: string) => console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}`);

const failures: string[] = [];
async function part<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    const message = `${name}: ${(error as Error).message.split("\n")[0]}`;
    failures.push(message);
    console.error(`[bench] ${message}`);
    return undefined;
  }
}

const closers: Array<() => Promise<void>> = [];
/** A close() that runs once however often it is called. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}
const generator = new LoadGenerator();
closers.push(() => generator.close());

const signers: SignerLoadResult[] = [];
const lookups: LookupResult[] = [];
let bundles: BundleSize[] = [];
let cryptoResult: CryptoResult | undefined;
let diagnostics: Diagnostic[] = [];
let proxies: Array<ProxyResult | ProxyFailure> = [];
let gate: GateResult | undefined;
let verifier: VerifierLoadResult | undefined;

try {
  log(`machine: ${machine().nproc} CPUs, Node ${process.version}, load average ${loadStart}`);
  const ha = await startHomeAssistantDouble();
  closers.push(() => ha.close());
  const haToken = ha.accessToken(ha.addUser({ name: "Bench User", is_admin: true }).id);
  const signingKey = (await generateKeyPair()).privatePem;
  const env = benchEnv(ha.url, signingKey);

  // Builds first, so that no bundler runs while anything is measured.
  if (runs("bundles")) {
    log("part 5: bundles (frontend, wrangler deploy --dry-run)");
    bundles = (await part("bundles", measureBundles)) ?? [];
  }
  const needsWorkerd = runs("signer") || runs("lookups") || runs("gate");
  if (needsWorkerd) log("building the bench Worker (product Worker + /bare)");
  const benchScript = needsWorkerd ? await part("bench worker build", buildBenchWorker) : undefined;

  const servers: BenchServer[] = [];
  const node = await startNodeBenchServer(env);
  node.close = once(node.close);
  closers.push(() => node.close());
  servers.push(node);
  if (benchScript && (runs("signer") || runs("lookups"))) {
    for (const kv of [true, false]) {
      const server = await part(`workerd${kv ? "" : " (no KV)"} start`, () => startWorkerdBenchServer(benchScript, env, { kv }));
      if (server) {
        server.close = once(server.close);
        closers.push(() => server.close());
        servers.push(server);
      }
    }
  }

  if (runs("signer")) {
    for (const server of servers) {
      log(`parts 1-2: /bare, /verify, /session on ${server.name}`);
      const result = await part(`/verify and /session on ${server.name}`, () => measureSigner(generator, server, haToken, plan));
      if (result) signers.push(result);
    }
  }

  if (runs("lookups")) {
    for (const server of servers.filter((s) => s.name !== "workerd (no KV)")) {
      log(`part 4: 1000 concurrent /session over 50 new tokens on ${server.name}`);
      const result = await part(`lookups on ${server.name}`, () => measureLookups(generator, server, ha, { requests: 1000, tokens: 50 }));
      if (result) lookups.push(result);
    }
  }
  // Only the Node signer serves the proxies and the local verifier; the others would just sit there.
  for (const server of servers.slice(1)) await server.close();

  if (runs("crypto")) {
    log("part 3: ES256 sign/verify, ours vs crypto.subtle");
    cryptoResult = await part("crypto", () => measureCrypto(signingKey, cryptoPlan));
  }
  if (runs("diagnostics")) {
    log("cost diagnostics");
    diagnostics = (await part("diagnostics", () => measureDiagnostics(signingKey, 2000))) ?? [];
  }

  if (runs("gate") && !benchScript) failures.push("gate: no bench Worker bundle (see the build failure above)");
  if (runs("gate") && benchScript) {
    log("part 7: the Worker as the gate vs a pass-through Worker, workerd");
    gate = await part("gate", async () => {
      const upstream = await startUpstream();
      try {
        return await measureGate(generator, { benchScript, env, upstream, haToken, plan });
      } finally {
        await upstream.close();
      }
    });
  }

  if (runs("verifier")) {
    log("part 8: the local verifier's /verify vs /bare on the same Node server");
    verifier = await part("local verifier", async () => {
      const { cookie } = await signIn(node, haToken);
      const server = await startVerifierBenchServer(node.url);
      try {
        return await measureVerifier(generator, server, cookie, plan);
      } finally {
        await server.close();
      }
    });
  }

  if (runs("proxies")) {
    log("part 6: Caddy, nginx, HAProxy with and without authentication");
    const proxyResults = await part("proxies", async () => {
      const { cookie } = await signIn(node, haToken);
      const pem = await (await fetch(`${node.url}/public-key.pem`, { signal: AbortSignal.timeout(10_000) })).text();
      const localVerifier = await startVerifierProcess(node.url);
      try {
        // Answered as the verifier answers nginx's --check local config (X-Accel-Expires included); the stand-in drops that header for Caddy as the verifier does.
        const standIn = await startStandInChecker(await verifyAnswerHeaders(localVerifier.url, cookie, `?${APPROVAL_CACHE_QUERY.param}`));
        try {
          return await measureProxies(generator, { env, signerUrl: node.url, verifierUrl: localVerifier.url, standInUrl: standIn.url, cookie, publicKeyPem: pem, plan });
        } finally {
          await standIn.close();
        }
      } finally {
        await localVerifier.close();
      }
    });
    proxies = proxyResults ?? [];
    for (const p of proxies) if ("error" in p) failures.push(`${p.how}: ${p.error}`);
  }
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  removeTempDirs();
}

const results: BenchResults = {
  parts: only,
  machine: machine(),
  loadStart,
  loadEnd: load(),
  durationS: (performance.now() - started) / 1000,
  plan,
  cryptoPlan,
  signers,
  crypto: cryptoResult,
  lookups,
  bundles,
  proxies,
  diagnostics,
  gate,
  verifier,
  failures,
};
const rows = buildRows(results);
console.log(`\n${renderTable(rows)}\n`);
if (complete) {
  const docs = join(ROOT, "docs/benchmarks.md");
  writeReport(docs, results, rows);
  log(`wrote ${docs} (${COMMAND}); load average ${results.loadStart} → ${results.loadEnd}`);
} else {
  for (const r of rows) if (r.why) console.log(`- ${r.check}: ${r.why}\n`);
  for (const f of failures) console.log(`- did not run: ${f}`);
  log(`partial or short run (${only.join(", ")}; ${plan.rounds} rounds of ${plan.roundMs} ms): docs/benchmarks.md left as it was; load average ${results.loadStart} → ${results.loadEnd}`);
}
process.exit(0);
