import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { HISTORY_HEADING, keptHistory } from "../../scripts/bench/report.js";

test("a bench run keeps the report's history section and nothing else of the old report", () => {
  const previous = `# Benchmarks\n\nold figures\n\n${HISTORY_HEADING}\n\n### a change\n\n| a | b |\n`;
  expect(keptHistory(previous)).toBe(`${HISTORY_HEADING}\n\n### a change\n\n| a | b |\n`);
  expect(keptHistory("# Benchmarks\n\nno history here\n")).toBe("");
  // Only a heading of its own counts, not the words inside a paragraph.
  expect(keptHistory(`# Benchmarks\n\nsee ${HISTORY_HEADING} below\n`)).toBe("");
});

test("docs/benchmarks.md has the before/after figures of the jose change in its kept history", () => {
  const history = keptHistory(readFileSync(new URL("../../docs/benchmarks.md", import.meta.url), "utf8"));
  expect(history).toMatch(/### Issue 11: jose/);
  expect(history).toMatch(/\| \/verify vs \/bare, node \|/);
  expect(history).toMatch(/\| \/session \(warm\) vs \/bare, node \|/);
});
