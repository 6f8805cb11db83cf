/**
 * dist/jwt-cookie.js, the file HACS installs and the signer serves: within the size budget,
 * built deterministically, committed up to date, and served by the signer (workerd and Node)
 * byte for byte with the headers a cross-origin module load needs.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSigner, testSigningKey, type RunningSigner, type SignerRuntime } from "../support/signer.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const BUDGET = 15_000; // bytes, gzip -9, Lit included
const built = () => readFileSync(`${root}/dist/jwt-cookie.js`);

function git(...args: string[]): Buffer | undefined {
  try {
    return execFileSync("git", args, { cwd: root, maxBuffer: 1 << 24, stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return undefined;
  }
}

/** dist/jwt-cookie.js as committed, when the sources it is built from are as committed too. */
function committedBuild(path: string): Buffer | undefined {
  const sourcesAsCommitted = git("diff", "--quiet", "HEAD", "--", "frontend", "rollup.config.mjs", "package-lock.json") !== undefined;
  return sourcesAsCommitted ? git("show", `HEAD:${path}`) : undefined;
}

describe("dist/jwt-cookie.js", () => {
  it(`is at most ${BUDGET} bytes gzipped, Lit included`, () => {
    const size = gzipSync(built(), { level: 9 }).length;
    console.log(`dist/jwt-cookie.js: ${built().length} bytes, ${size} bytes gzip`);
    expect(size).toBeLessThanOrEqual(BUDGET);
    expect(built().toString()).toContain("jwt-cookie-panel");
  });

  it("is what the signer embeds (dist/jwt-cookie.embed.ts carries the same bytes)", async () => {
    const embedded = (await import(`${root}/dist/jwt-cookie.embed.ts`)) as { bundle: string; etag: string };
    expect(embedded.bundle).toBe(built().toString());
    expect(embedded.etag).toMatch(/^"[\w-]{27}"$/);
  });

  // On a clean clone (CI), global setup has just rebuilt dist/ from the committed sources: the
  // committed copies must be identical, or HACS users would install something else than the
  // sources say. This also proves the build deterministic across machines. (Skipped while the
  // frontend sources have uncommitted changes: then there is no committed build to compare.)
  it.skipIf(committedBuild("dist/jwt-cookie.js") === undefined)("is committed up to date (run `npm run build:frontend` and commit dist/)", () => {
    expect(committedBuild("dist/jwt-cookie.js")!.equals(built()), "dist/jwt-cookie.js is stale: npm run build:frontend, then commit it").toBe(true);
    expect(committedBuild("dist/jwt-cookie.embed.ts")?.toString(), "dist/jwt-cookie.embed.ts is stale").toBe(readFileSync(`${root}/dist/jwt-cookie.embed.ts`, "utf8"));
  });
});

describe.each(["workerd", "node"] as SignerRuntime[])("the signer on %s serves /jwt-cookie.js", (runtime) => {
  let signer: RunningSigner;
  beforeAll(async () => {
    signer = await startSigner(runtime, { HA_URL: "http://127.0.0.1:9", SIGNING_KEY: await testSigningKey() });
  });
  afterAll(async () => {
    await signer?.close();
  });

  it("byte for byte, as a JavaScript module any origin may load, with or without credentials", async () => {
    const plain = await fetch(`${signer.url}/jwt-cookie.js`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(plain.headers.get("access-control-allow-origin")).toBe("*");
    expect(Buffer.from(await plain.arrayBuffer()).equals(built())).toBe(true);

    const credentialed = await fetch(`${signer.url}/jwt-cookie.js`, { headers: { Origin: "https://ha.example.com" } });
    expect(credentialed.headers.get("access-control-allow-origin")).toBe("https://ha.example.com");
    expect(credentialed.headers.get("access-control-allow-credentials")).toBe("true");
    expect(credentialed.headers.get("vary")).toContain("Origin");

    const again = await fetch(`${signer.url}/jwt-cookie.js`, { headers: { "If-None-Match": plain.headers.get("etag")! } });
    expect(again.status).toBe(304);
  });

  it("even when its configuration is invalid (so the panel can load and tell)", async () => {
    const broken = await startSigner(runtime, { HA_URL: "not a url" });
    try {
      expect((await fetch(`${broken.url}/jwt-cookie.js`)).status).toBe(200);
      expect((await fetch(`${broken.url}/healthz`)).status).toBe(500);
    } finally {
      await broken.close();
    }
  });
});
