/**
 * Part 3: ES256 sign and verify per second through our code (signJwt, and the verifier
 * with its cache defeated: distinct tokens, and a fresh verifier for every pass over
 * them) against raw crypto.subtle.sign/verify with the same keys on the same bytes.
 * In this process, one operation in flight (so the figure is cost per operation, and
 * Node's WebCrypto thread-pool hop is in both sides), alternating rounds like the HTTP parts.
 */
import { importKeyRing, type KeyRing } from "../../worker/tokens/keys.js";
import { sessionClaims, signJwt } from "../../worker/tokens/sign.js";
import { createVerifier, type Verifier } from "../../worker/tokens/verify.js";
import { alternate, median, ratioOfRounds, type Runner } from "./ab.js";

const ES256 = { name: "ECDSA", hash: "SHA-256" } as const;
const JWT = { issuer: "homeassistant", audience: ["homeassistant"] };

interface LoopResult {
  ops: number;
  elapsedMs: number;
  /** CPU time of this process (all threads: Node runs WebCrypto jobs on its thread pool). */
  cpuMs: number;
}

/** Runs `op` back to back until `durationMs` or `maxOps`. */
async function loop(op: (i: number) => Promise<unknown>, durationMs: number, maxOps: number): Promise<LoopResult> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let ops = 0;
  while (ops < maxOps && performance.now() < deadline) {
    await op(ops);
    ops++;
  }
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ops, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export interface CryptoPair {
  /** Operations per second, one per round. */
  ours: number[];
  raw: number[];
  oursMedian: number;
  rawMedian: number;
  /** Median of the per-round ratios ours / raw. */
  ratio: number;
  /** Operations per CPU-second over all rounds: a cross-check that other processes cannot skew. */
  oursPerCpuSecond: number;
  rawPerCpuSecond: number;
}

export interface CryptoResult {
  sign: CryptoPair;
  verify: CryptoPair;
  poolSize: number;
}

function pair(results: Map<string, LoopResult[]>, ours: string, raw: string): CryptoPair {
  const rate = (r: LoopResult) => (r.ops / r.elapsedMs) * 1000;
  const perCpu = (rs: LoopResult[]) => (rs.reduce((n, r) => n + r.ops, 0) / rs.reduce((n, r) => n + r.cpuMs, 0)) * 1000;
  const o = results.get(ours)!.map(rate);
  const w = results.get(raw)!.map(rate);
  return {
    ours: o,
    raw: w,
    oursMedian: median(o),
    rawMedian: median(w),
    ratio: ratioOfRounds(o, w),
    oursPerCpuSecond: perCpu(results.get(ours)!),
    rawPerCpuSecond: perCpu(results.get(raw)!),
  };
}

export async function measureCrypto(signingKeyPem: string, plan: { warmupMs: number; rounds: number; roundMs: number }): Promise<CryptoResult> {
  const keys: KeyRing = await importKeyRing(signingKeyPem, []);
  const user = { id: "0123456789abcdef0123456789abcdef", name: "Bench User", is_admin: true, is_owner: false };
  const claims = sessionClaims(user, { ...JWT, ttl: 1800, now: Date.now() });
  const sample = await signJwt(keys, claims);
  const sampleInput = new TextEncoder().encode(sample.slice(0, sample.lastIndexOf(".")));

  // Distinct valid tokens (each its own jti), and their raw parts for the crypto.subtle side.
  const poolSize = 2000;
  const pool: string[] = [];
  const rawParts: Array<{ data: Uint8Array<ArrayBuffer>; signature: Uint8Array<ArrayBuffer> }> = [];
  for (let i = 0; i < poolSize; i++) {
    const token = await signJwt(keys, sessionClaims(user, { ...JWT, ttl: 1800, now: Date.now() }));
    pool.push(token);
    const dot = token.lastIndexOf(".");
    rawParts.push({
      data: new TextEncoder().encode(token.slice(0, dot)),
      signature: new Uint8Array(Buffer.from(token.slice(dot + 1), "base64url")),
    });
  }
  const freshVerifier = (): Verifier => createVerifier(keys, { ...JWT, cacheMaxEntries: poolSize });
  let verifier = freshVerifier();
  const maxOps = 1_000_000;

  const runners: Runner<LoopResult>[] = [
    { key: "sign:ours", run: (ms) => loop(() => signJwt(keys, claims), ms, maxOps) },
    { key: "sign:raw", run: (ms) => loop(() => crypto.subtle.sign(ES256, keys.signingKey, sampleInput), ms, maxOps) },
    {
      key: "verify:ours",
      run: (ms) =>
        loop(
          async (i) => {
            const index = i % poolSize;
            // A new verifier each pass: no token is ever a cache hit.
            if (index === 0) verifier = freshVerifier();
            const result = await verifier.verify(pool[index]!, Date.now());
            if (!result.ok) throw new Error(`verify failed in the benchmark: ${result.reason}`);
          },
          ms,
          maxOps,
        ),
    },
    {
      key: "verify:raw",
      run: (ms) =>
        loop(
          async (i) => {
            const { data, signature } = rawParts[i % poolSize]!;
            if (!(await crypto.subtle.verify(ES256, keys.current.key, signature, data))) throw new Error("raw verify failed");
          },
          ms,
          maxOps,
        ),
    },
  ];
  const results = await alternate(runners, plan);
  return { sign: pair(results, "sign:ours", "sign:raw"), verify: pair(results, "verify:ours", "verify:raw"), poolSize };
}
