/** Part 5: gzip sizes of the frontend bundle and of the Worker bundle from `wrangler deploy --dry-run`. */
import { nodeResolve } from "@rollup/plugin-node-resolve";
import terser from "@rollup/plugin-terser";
import { readFileSync } from "node:fs";
import { rollup } from "rollup";
import { relative } from "node:path";
import { gzipSync } from "node:zlib";
import { buildProductWorker, frontendBundle, ROOT } from "./build.js";

export interface BundleSize {
  name: string;
  file: string | undefined;
  bytes: number | undefined;
  gzipBytes: number | undefined;
  note: string;
  /** Frontend: what Lit's core alone weighs, bundled the same way (for the why of a miss). */
  litCoreGzipBytes?: number;
}

/** LitElement + html + css alone, with rollup, node-resolve (browser, production) and terser, gzip -9. */
export async function litCoreGzipBytes(): Promise<number> {
  const entry = "\0bench-lit-core";
  const bundle = await rollup({
    input: entry,
    plugins: [
      { name: "bench-entry", resolveId: (id) => (id === entry ? id : null), load: (id) => (id === entry ? 'export { LitElement, html, css } from "lit";' : null) },
      nodeResolve({ browser: true, exportConditions: ["production"], rootDir: ROOT }),
      terser(),
    ],
    onwarn: () => undefined,
  });
  try {
    const { output } = await bundle.generate({ format: "es" });
    return gzipSync(Buffer.from(output[0].code), { level: 9 }).length;
  } finally {
    await bundle.close();
  }
}

function sizeOf(path: string): { bytes: number; gzipBytes: number } {
  const content = readFileSync(path);
  return { bytes: content.length, gzipBytes: gzipSync(content, { level: 9 }).length };
}

export async function measureBundles(): Promise<BundleSize[]> {
  const frontend = await frontendBundle();
  const sizes: BundleSize[] = [];
  if (frontend.path) {
    let litCore: number | undefined;
    try {
      litCore = await litCoreGzipBytes();
    } catch {
      litCore = undefined;
    }
    sizes.push({ name: "frontend", file: relative(ROOT, frontend.path), ...sizeOf(frontend.path), note: frontend.note, ...(litCore ? { litCoreGzipBytes: litCore } : {}) });
  }
  else sizes.push({ name: "frontend", file: undefined, bytes: undefined, gzipBytes: undefined, note: frontend.note });
  try {
    const worker = await buildProductWorker();
    sizes.push({ name: "worker", file: "wrangler deploy --dry-run → index.js", ...sizeOf(worker), note: "built now, minified as wrangler.toml has it (minify = true, keep_names = false)" });
  } catch (error) {
    sizes.push({ name: "worker", file: undefined, bytes: undefined, gzipBytes: undefined, note: `not built: ${(error as Error).message.split("\n")[0]}` });
  }
  return sizes;
}
