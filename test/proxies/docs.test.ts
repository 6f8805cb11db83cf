/**
 * The configs in docs/<proxy>.md are the generator's output for the arguments written above
 * each one; this fails when they drift (fix: npm run docs:proxies).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DOC_PAGES, generatedBlockCount, renderGeneratedBlocks } from "../../scripts/proxy-config/docs-blocks.js";

describe("docs: proxy configs come from the generator", () => {
  it.each(DOC_PAGES)("%s is up to date (npm run docs:proxies)", (page) => {
    const text = readFileSync(page, "utf8");
    expect(generatedBlockCount(text)).toBeGreaterThan(0);
    expect(renderGeneratedBlocks(text)).toBe(text);
  });

  it("says that Traefik was not run here", () => {
    expect(readFileSync("docs/traefik.md", "utf8")).toMatch(/\*\*Not run here\.\*\*/);
  });
});
