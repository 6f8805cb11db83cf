/**
 * npm run bench's command line: which parts run (--only, default all) and the plan of the
 * HTTP comparisons (--rounds, --round-ms, --warmup-ms, default DEFAULT_PLAN). Only a run of
 * every part with the default plan is `complete`, the one that may write docs/benchmarks.md.
 */
import { DEFAULT_PLAN, type Plan } from "./ab.js";

export const BENCH_PARTS = ["bundles", "signer", "crypto", "lookups", "diagnostics", "proxies", "gate", "verifier"] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

export type BenchArgs = { ok: true; parts: BenchPart[]; plan: Plan; complete: boolean } | { ok: false; error: string };

const PLAN_FLAGS = { "--rounds": "rounds", "--round-ms": "roundMs", "--warmup-ms": "warmupMs" } as const;
const LIMITS: Record<"rounds" | "roundMs" | "warmupMs", [number, number]> = { rounds: [1, 100], roundMs: [50, 10_000], warmupMs: [0, 10_000] };

export function parseBenchArgs(argv: string[]): BenchArgs {
  let parts: BenchPart[] = [...BENCH_PARTS];
  const plan: Plan = { ...DEFAULT_PLAN };
  const usage = `usage: npm run bench -- [--only ${BENCH_PARTS.join(",")}] [--rounds N] [--round-ms MS] [--warmup-ms MS]`;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) return { ok: false, error: `${flag} needs a value. ${usage}` };
    i++;
    if (flag === "--only") {
      const names = value.split(",").map((n) => n.trim()).filter(Boolean);
      const unknown = names.filter((n) => !(BENCH_PARTS as readonly string[]).includes(n));
      if (unknown.length || names.length === 0) return { ok: false, error: `--only: unknown part(s) ${unknown.join(", ") || "(none given)"}; parts are ${BENCH_PARTS.join(", ")}.` };
      parts = BENCH_PARTS.filter((p) => names.includes(p));
    } else if (flag in PLAN_FLAGS) {
      const key = PLAN_FLAGS[flag as keyof typeof PLAN_FLAGS];
      const n = Number(value);
      const [min, max] = LIMITS[key];
      if (!Number.isInteger(n) || n < min || n > max) return { ok: false, error: `${flag} "${value}" must be a whole number from ${min} to ${max}.` };
      plan[key] = n;
    } else {
      return { ok: false, error: `unknown option ${flag}. ${usage}` };
    }
  }
  const defaultPlan = (Object.keys(DEFAULT_PLAN) as Array<keyof Plan>).every((k) => plan[k] === DEFAULT_PLAN[k]);
  return { ok: true, parts, plan, complete: parts.length === BENCH_PARTS.length && defaultPlan };
}
