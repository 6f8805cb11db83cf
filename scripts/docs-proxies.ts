/**
 * npm run docs:proxies            rewrite the generated configs in docs/<proxy>.md
 * npm run docs:proxies -- --check  only report pages whose configs are out of date (exit 1)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { DOC_PAGES, renderGeneratedBlocks } from "./proxy-config/docs-blocks.js";

const check = process.argv.includes("--check");
const stale: string[] = [];
for (const page of DOC_PAGES) {
  const before = readFileSync(page, "utf8");
  const after = renderGeneratedBlocks(before);
  if (after === before) continue;
  stale.push(page);
  if (!check) writeFileSync(page, after);
}
if (check && stale.length > 0) {
  console.error(`Out of date (run npm run docs:proxies): ${stale.join(", ")}`);
  process.exit(1);
}
console.log(stale.length === 0 ? "docs: proxy configs are up to date" : `docs: rewrote ${stale.join(", ")}`);
