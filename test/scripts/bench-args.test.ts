import { expect, test } from "vitest";
import { DEFAULT_PLAN, type VariantStats } from "../../scripts/bench/ab.js";
import { BENCH_PARTS, parseBenchArgs } from "../../scripts/bench/args.js";
import { buildRows, renderMarkdown, type BenchResults } from "../../scripts/bench/report.js";
import { atLeast, ratioText } from "../../scripts/bench/targets.js";

test("npm run bench with no options runs every part with the default plan, the only run that writes docs/benchmarks.md", () => {
  expect(parseBenchArgs([])).toEqual({ ok: true, parts: [...BENCH_PARTS], plan: DEFAULT_PLAN, complete: true });
  expect(parseBenchArgs(["--only", BENCH_PARTS.join(",")])).toMatchObject({ ok: true, complete: true });
});

test("--only runs the named parts, in the bench's order, and is not a complete run", () => {
  expect(parseBenchArgs(["--only", "verifier,proxies,gate"])).toEqual({ ok: true, parts: ["proxies", "gate", "verifier"], plan: DEFAULT_PLAN, complete: false });
});

test("a shorter plan runs every part but is not a complete run", () => {
  const parsed = parseBenchArgs(["--rounds", "4", "--round-ms", "250", "--warmup-ms", "300"]);
  expect(parsed).toEqual({ ok: true, parts: [...BENCH_PARTS], plan: { ...DEFAULT_PLAN, rounds: 4, roundMs: 250, warmupMs: 300 }, complete: false });
});

test("unknown parts, unknown options, missing and out-of-range values are refused with the reason", () => {
  expect(parseBenchArgs(["--only", "gate,nope"])).toEqual({ ok: false, error: expect.stringContaining("unknown part(s) nope") });
  expect(parseBenchArgs(["--only", ","])).toEqual({ ok: false, error: expect.stringContaining("(none given)") });
  expect(parseBenchArgs(["--fast", "1"])).toEqual({ ok: false, error: expect.stringContaining("unknown option --fast") });
  expect(parseBenchArgs(["--only"])).toEqual({ ok: false, error: expect.stringContaining("--only needs a value") });
  expect(parseBenchArgs(["--rounds", "0"])).toEqual({ ok: false, error: expect.stringContaining("--rounds \"0\" must be a whole number from 1 to 100") });
  expect(parseBenchArgs(["--round-ms", "2.5"])).toEqual({ ok: false, error: expect.stringContaining("--round-ms") });
});

function stats(key: string, median: number): VariantStats {
  return { key, rates: [median, median], median, requests: 100, unexpected: {}, errors: 0, errorMessages: [], p50Ms: 1, p99Ms: 2, mainThreadUsPerRequest: 30 };
}

function results(over: Partial<BenchResults>): BenchResults {
  return {
    parts: ["proxies", "gate", "verifier"],
    machine: { date: "2026-01-01T00:00:00Z", nproc: 2, cpuModel: "cpu", memoryGiB: 1, kernel: "Linux", node: "v20" },
    loadStart: 0,
    loadEnd: 0,
    durationS: 1,
    plan: DEFAULT_PLAN,
    cryptoPlan: { warmupMs: 1, rounds: 1, roundMs: 1 },
    signers: [],
    crypto: undefined,
    lookups: [],
    bundles: [],
    proxies: [],
    diagnostics: [],
    failures: [],
    ...over,
  };
}

test("the gate, the local verifier and the proxies are judged against issue 9's and 10's targets", () => {
  const rows = buildRows(
    results({
      gate: { gate: stats("gate", 790), passThrough: stats("pass-through", 1000), ratio: 0.79 },
      verifier: {
        verify: stats("verify", 8600),
        bare: stats("bare", 10000),
        ratio: 0.86,
        bareSameRequest: stats("bare-same-request", 9800),
        bareSameAnswer: stats("bare-same-answer", 9500),
        answerBytes: 140,
        cookieHeaderBytes: 520,
      },
      proxies: [
        { proxy: "caddy", how: "caddy → signer", auth: stats("auth", 300), plain: stats("plain", 1000), ratio: 0.3 },
        { proxy: "caddy-local", how: "caddy → verifier", auth: stats("auth", 500), plain: stats("plain", 1000), ratio: 0.5 },
        { proxy: "caddy-stand-in", how: "caddy → stand-in", auth: stats("auth", 550), plain: stats("plain", 1000), ratio: 0.55 },
        { proxy: "nginx-local", how: "nginx → verifier", auth: stats("auth", 490), plain: stats("plain", 1000), ratio: 0.49 },
        {
          proxy: "nginx-native",
          how: "nginx njs",
          auth: stats("auth", 500),
          plain: stats("plain", 1000),
          ratio: 0.5,
          njs: { version: "0.7.9", importAndVerifyUs: 300, verifyUs: 100, iterations: 10 },
        },
        { proxy: "haproxy", how: "haproxy", auth: stats("auth", 800), plain: stats("plain", 1000), ratio: 0.8 },
      ],
    }),
  );
  const verdict = (check: string) => rows.find((r) => r.check.startsWith(check))!;
  expect(verdict("the Worker as the gate").judgement).toMatchObject({ verdict: "missed", target: "≥ 0.8" });
  expect(verdict("local verifier /verify").judgement).toMatchObject({ verdict: "met", target: "≥ 0.85" });
  expect(verdict("caddy → signer").judgement.verdict).toBe("info");
  expect(verdict("caddy → verifier").judgement).toMatchObject({ verdict: "met", target: "≥ 0.5" });
  // The stand-in is a baseline with no target, and the verifier's row names it as its ceiling.
  expect(verdict("caddy → stand-in").judgement.verdict).toBe("info");
  expect(verdict("caddy → stand-in").why).toContain("A baseline, not a product mode");
  expect(verdict("caddy → verifier").why).toContain("kept 0.55 of the same caddy in this run (818 µs per request)");
  expect(verdict("nginx → verifier").judgement).toMatchObject({ verdict: "missed", target: "≥ 0.5" });
  expect(verdict("haproxy").judgement).toMatchObject({ verdict: "met", target: "≥ 0.8" });
  const native = verdict("nginx njs");
  expect(native.check).toBe("nginx njs vs the same nginx without auth");
  expect(native.judgement).toMatchObject({ verdict: "missed", target: "≥ 0.8" });
  // The miss is explained with the run's figures: 1000 µs over plain; a cache miss's key import + verify 300 µs.
  expect(native.why).toContain("Authentication costs 1000 µs per request");
  expect(native.why).toContain('a miss\'s cryptography alone is importKey("spki") + verify, 300 µs (the verify alone with a key imported once: 100 µs');
  expect(verdict("the Worker as the gate").why).toContain("The gate costs 266 µs more per request than the pass-through Worker");
});

test("a missed local-verifier target is split into the request's size, the answer's size and the route", () => {
  const rows = buildRows(
    results({
      verifier: {
        verify: stats("verify", 8000),
        bare: stats("bare", 10000),
        ratio: 0.8,
        bareSameRequest: stats("bare-same-request", 9500),
        bareSameAnswer: stats("bare-same-answer", 9000),
        answerBytes: 140,
        cookieHeaderBytes: 520,
      },
    }),
  );
  const why = rows.find((r) => r.check.startsWith("local verifier"))!.why;
  // Steps as ratios of rounds: 0.95 (1/0.95 - 1) × 100 µs = 5.3 µs; 0.947 → 5.8 µs; 0.889 → 14 µs.
  expect(why).toContain("/bare sent /verify's very request (its 520-byte Cookie header line) ran at 9,500 req/s, 0.95 of /bare: the request's size, 5.3 µs");
  expect(why).toContain("answering with /verify's very headers (140 bytes of them, no work), ran at 9,000 req/s, 0.95 of the previous: the answer's size, 5.8 µs");
  expect(why).toContain("/verify against it, 0.89: the route itself, 14 µs");
  expect(why).toContain("busy (event-loop utilisation, its syscalls included) 30 µs per /bare request");
  // A step the noise turned around is not reported as a negative cost.
  const noisy = buildRows(
    results({
      verifier: {
        verify: stats("verify", 8000),
        bare: stats("bare", 10000),
        ratio: 0.8,
        bareSameRequest: stats("bare-same-request", 10200),
        bareSameAnswer: stats("bare-same-answer", 9000),
        answerBytes: 140,
        cookieHeaderBytes: 520,
      },
    }),
  );
  expect(noisy.find((r) => r.check.startsWith("local verifier"))!.why).toContain("the request's size, nothing measurable (-2.0 µs, within this run's noise)");
});

test("a part that did not run leaves no row, and the report names what the new rows measure", () => {
  const r = results({ parts: ["gate"] });
  expect(buildRows(r)).toEqual([]);
  const md = renderMarkdown(r, []);
  expect(md).toContain("**The gate (part 7)**");
  expect(md).toContain("**The local verifier (part 8)**");
});

test("a miss that two decimals would round up to the target is printed with three", () => {
  expect(ratioText(0.497, 0.5)).toBe("0.497");
  expect(ratioText(0.49, 0.5)).toBe("0.49");
  expect(ratioText(0.503, 0.5)).toBe("0.50");
  expect(ratioText(0.497)).toBe("0.50");
  expect(atLeast(0.497, 0.5)).toEqual({ verdict: "missed", target: "≥ 0.5", miss: "0.003 short (0.6 % below)" });
  expect(atLeast(0.44, 0.5).miss).toBe("0.06 short (12 % below)");
});
