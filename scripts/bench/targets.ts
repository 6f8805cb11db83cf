/** The targets of the benchmark sections of issues 5, 9 and 10, and how a measurement is judged against them. */

export type Verdict = "met" | "missed" | "not measured" | "info";

export const TARGETS = {
  verifyVsBare: 0.8,
  sessionVsBare: 0.6,
  cryptoVsRaw: 0.9,
  lookupsPerToken: 1,
  /** Bytes (1 kB = 1,000 bytes), gzip -9. */
  frontendGzipBytes: 15_000,
  workerGzipBytes: 60_000,
  /** Issue 9: authenticated / unauthenticated throughput of the native checkers (nginx njs, HAProxy). */
  nativeProxyVsPlain: 0.8,
  /** Issue 9: the same for Caddy and nginx asking the local verifier. */
  localProxyVsPlain: 0.5,
  /** Issue 9: the local verifier's /verify against a bare route on the same Node server. */
  localVerifierVsBare: 0.85,
  /** Issue 10: the Worker as the gate against the same Worker passing requests through, workerd. */
  gateVsPassThrough: 0.8,
} as const;

export interface Judgement {
  verdict: Verdict;
  target: string;
  /** For a miss: by how much, e.g. "0.12 short (15 %)". */
  miss?: string;
}

/**
 * A ratio as the report prints it: two decimals, or three where two would round a miss up to
 * its target (0.497 against ≥ 0.5 is shown as 0.497, not as a "missed" 0.50).
 */
export function ratioText(value: number, min?: number): string {
  return min !== undefined && value < min && Number(value.toFixed(2)) >= min ? value.toFixed(3) : value.toFixed(2);
}

export function atLeast(value: number | undefined, min: number): Judgement {
  const target = `≥ ${min}`;
  if (value === undefined || !Number.isFinite(value)) return { verdict: "not measured", target };
  if (value >= min) return { verdict: "met", target };
  const short = min - value;
  const shortText = short < 0.005 ? short.toFixed(3) : short.toFixed(2);
  const percent = (short / min) * 100;
  return { verdict: "missed", target, miss: `${shortText} short (${percent < 1 ? percent.toFixed(1) : Math.round(percent)} % below)` };
}

export function exactly(value: number | undefined, expected: number): Judgement {
  const target = `= ${expected}`;
  if (value === undefined || !Number.isFinite(value)) return { verdict: "not measured", target };
  if (value === expected) return { verdict: "met", target };
  return { verdict: "missed", target, miss: `${value.toFixed(2)} instead of ${expected}` };
}

export function atMostBytes(bytes: number | undefined, max: number): Judgement {
  const target = `≤ ${max / 1000} kB`;
  if (bytes === undefined) return { verdict: "not measured", target };
  if (bytes <= max) return { verdict: "met", target };
  const over = bytes - max;
  const amount = over < 1000 ? `${over} B` : `${(over / 1000).toFixed(1)} kB`;
  return { verdict: "missed", target, miss: `${amount} over (${((over / max) * 100).toFixed(over < 1000 ? 2 : 0)} %)` };
}
