/**
 * The verifier role holds no private key and never talks to Home Assistant, by
 * construction: nothing reachable from its entry imports worker/home-assistant/, the
 * signer's runtime or the signing code, and once bundled (tree-shaken, as a deploy would)
 * none of the private-key import, signing or Home Assistant protocol code is left in it.
 */
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, test } from "vitest";

const ROOT = resolve(new URL("../..", import.meta.url).pathname);
const ENTRY = join(ROOT, "worker/verifier-node.ts");

/** Every worker/ module reachable from `entry` at run time: relative imports, `import type` (erased) left out. */
function moduleGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;"']*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/gm)) {
      if (!match[1]) visit(resolve(dirname(file), match[2]!.replace(/\.js$/, ".ts")));
    }
    for (const match of source.matchAll(/await\s+import\(\s*["'](\.{1,2}\/[^"']+)["']/g)) visit(resolve(dirname(file), match[1]!.replace(/\.js$/, ".ts")));
  };
  visit(entry);
  return new Set([...seen].map((file) => relative(ROOT, file)));
}

test("nothing reachable from the verifier's entry speaks to Home Assistant or signs", () => {
  const graph = moduleGraph(ENTRY);
  expect(graph).toContain("worker/routes/verify.ts");
  expect(graph).toContain("worker/checking/session-check.ts"); // THE check, shared, not copied
  const forbidden = [...graph].filter(
    (file) =>
      // config.ts checks HA_TOKEN's shape with the pre-check, which only decodes a string.
      (file.startsWith("worker/home-assistant/") && file !== "worker/home-assistant/access-token-precheck.ts") ||
      ["worker/runtime.ts", "worker/app.ts", "worker/tokens/sign.ts", "worker/tokens/session-issuer.ts", "worker/node-server.ts"].includes(file) ||
      /worker\/routes\/(session|login|logout|keys)\.ts$/.test(file),
  );
  expect(forbidden).toEqual([]);
});

test("the bundled verifier contains no private-key import, signing or Home Assistant protocol code", async () => {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    packages: "external",
    treeShaking: true,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  expect(code).toContain("function createVerifier"); // the bundle is the verifier
  for (const marker of ["importKeyRing", '"pkcs8"', '["sign"]', "SIGNING_KEY", "auth/current_user", "api/websocket", "generateKeyPair"]) {
    expect(code.includes(marker), marker).toBe(false);
  }
});
