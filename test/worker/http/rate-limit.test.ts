import { expect, test } from "vitest";
import { createRateLimiter } from "../../../worker/http/rate-limit.js";

test("a burst of RATE_LIMIT passes, the next waits, tokens come back over time, per address", () => {
  const limiter = createRateLimiter(6, 100);
  const t = 1_000_000;
  for (let i = 0; i < 6; i++) expect(limiter.take("a", t)).toBe(0);
  expect(limiter.take("a", t)).toBe(10); // one token per 10 s at 6/min
  expect(limiter.take("b", t)).toBe(0);
  expect(limiter.take("a", t + 10_000)).toBe(0);
  expect(limiter.take("a", t + 10_000)).toBeGreaterThan(0);
});

test("the table of addresses stays bounded", () => {
  const limiter = createRateLimiter(1, 10);
  for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, 0);
  // The oldest addresses were forgotten: they get a fresh bucket.
  expect(limiter.take("10.0.0.0", 0)).toBe(0);
});
