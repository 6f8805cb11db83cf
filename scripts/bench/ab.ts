/**
 * The fair comparison: every variant gets a warm-up, then many short rounds in alternating
 * order (A B C, C B A, A B C, ...) at the same concurrency over the same kind of keep-alive
 * connections. A ratio is the median of the per-round ratios (each from measurements taken
 * back to back), and a rate the median of its rounds. Drift on a noisy machine (other
 * processes, CPU frequency, GC) then hits both sides of a ratio alike, so the ratios hold
 * even when the absolute figures move.
 */
import { performance } from "node:perf_hooks";
import { goodPerSecond, type LoadGenerator, type LoadResult, type LoadSpec } from "./http-load.js";

export interface Plan {
  warmupMs: number;
  rounds: number;
  roundMs: number;
  concurrency: number;
  /** Cap per round, so a round is bounded in count as well as in time. */
  maxRequestsPerRound: number;
}

export const DEFAULT_PLAN: Plan = { warmupMs: 800, rounds: 12, roundMs: 400, concurrency: 16, maxRequestsPerRound: 100_000 };

export interface Variant {
  key: string;
  spec: Omit<LoadSpec, "concurrency" | "durationMs" | "maxRequests">;
  expectStatus: number;
}

export interface VariantStats {
  key: string;
  /** Requests per second that got the expected status, one per round. */
  rates: number[];
  median: number;
  requests: number;
  /** Responses with another status, and transport errors, over all rounds (should be none). */
  unexpected: Record<string, number>;
  errors: number;
  errorMessages: string[];
  p50Ms: number;
  p99Ms: number;
  /**
   * This process's main thread, busy (event-loop utilisation, syscalls included), per request
   * answered, over all rounds. It is the server's own cost per request where the server under
   * test runs on the main thread (the Node signer, part 8's verifier); the load generator runs
   * on a thread of its own and is not in it.
   */
  mainThreadUsPerRequest: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median over rounds of a[i] / b[i]. */
export function ratioOfRounds(a: number[], b: number[]): number {
  return median(a.map((x, i) => (b[i] ? x / b[i]! : 0)));
}

/** Anything runnable for a bounded time (an HTTP variant or an in-process loop). */
export interface Runner<R> {
  key: string;
  run(durationMs: number): Promise<R>;
}

/** Warm-up, then `rounds` rounds in alternating order; returns each runner's results in round order. */
export async function alternate<R>(runners: Runner<R>[], plan: Pick<Plan, "warmupMs" | "rounds" | "roundMs">): Promise<Map<string, R[]>> {
  for (const r of runners) await r.run(plan.warmupMs);
  const results = new Map<string, R[]>(runners.map((r) => [r.key, []]));
  for (let round = 0; round < plan.rounds; round++) {
    const order = round % 2 === 0 ? runners : [...runners].reverse();
    for (const r of order) results.get(r.key)!.push(await r.run(plan.roundMs));
  }
  return results;
}

export async function compareHttp(generator: LoadGenerator, variants: Variant[], plan: Plan = DEFAULT_PLAN): Promise<Map<string, VariantStats>> {
  const runners: Runner<LoadResult & { mainActiveMs: number }>[] = variants.map((v) => ({
    key: v.key,
    run: async (durationMs) => {
      const before = performance.eventLoopUtilization();
      const result = await generator.run({ ...v.spec, concurrency: plan.concurrency, durationMs, maxRequests: plan.maxRequestsPerRound });
      return { ...result, mainActiveMs: performance.eventLoopUtilization(before).active };
    },
  }));
  const results = await alternate(runners, plan);
  const stats = new Map<string, VariantStats>();
  for (const v of variants) {
    const rounds = results.get(v.key)!;
    const unexpected: Record<string, number> = {};
    for (const r of rounds) {
      for (const [status, count] of Object.entries(r.statuses)) {
        if (Number(status) !== v.expectStatus) unexpected[status] = (unexpected[status] ?? 0) + count;
      }
    }
    const rates = rounds.map((r) => goodPerSecond(r, v.expectStatus));
    const requests = rounds.reduce((n, r) => n + r.requests, 0);
    stats.set(v.key, {
      key: v.key,
      rates,
      median: median(rates),
      requests,
      unexpected,
      errors: rounds.reduce((n, r) => n + r.errors, 0),
      errorMessages: [...new Set(rounds.flatMap((r) => r.errorMessages))].slice(0, 3),
      p50Ms: median(rounds.map((r) => r.latencyMs.p50)),
      p99Ms: median(rounds.map((r) => r.latencyMs.p99)),
      mainThreadUsPerRequest: requests ? (rounds.reduce((ms, r) => ms + r.mainActiveMs, 0) * 1000) / requests : 0,
    });
  }
  return stats;
}
