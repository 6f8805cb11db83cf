/**
 * What nginx's native check pays for its cryptography each time it runs (every approval-cache
 * miss), measured with the njs CLI (the same njs 0.7.9 and OpenSSL as libnginx-mod-http-js):
 * crypto.subtle.importKey of the SPKI key + one ES256 verify, as the check does on every run
 * (njs 0.7.9 keeps nothing between requests), against the verify alone with a key imported once. A key pair and a
 * signature made here with node:crypto are written into a temporary njs script; each loop
 * runs a bounded number of times and the script reports wall time per operation.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./build.js";

export const NJS = "/usr/bin/njs";

export interface NjsCosts {
  version: string;
  /** µs per importKey("spki") + verify, one at a time. */
  importAndVerifyUs: number;
  /** µs per verify with the key imported once. */
  verifyUs: number;
  iterations: number;
}

function script(spkiBase64: string, message: string, signatureBase64: string, iterations: number): string {
  return `
var spki = Buffer.from(${JSON.stringify(spkiBase64)}, "base64");
var signature = Buffer.from(${JSON.stringify(signatureBase64)}, "base64");
var data = new TextEncoder().encode(${JSON.stringify(message)});
var ecdsa = { name: "ECDSA", namedCurve: "P-256" };
var alg = { name: "ECDSA", hash: "SHA-256" };
var N = ${iterations};
async function main() {
  var t0 = Date.now();
  for (var i = 0; i < N; i++) {
    var k = await crypto.subtle.importKey("spki", spki, ecdsa, false, ["verify"]);
    if (!(await crypto.subtle.verify(alg, k, signature, data))) throw new Error("signature did not verify");
  }
  var t1 = Date.now();
  var key = await crypto.subtle.importKey("spki", spki, ecdsa, false, ["verify"]);
  for (var j = 0; j < N; j++) {
    if (!(await crypto.subtle.verify(alg, key, signature, data))) throw new Error("signature did not verify");
  }
  var t2 = Date.now();
  console.log(JSON.stringify({ importAndVerifyUs: ((t1 - t0) * 1000) / N, verifyUs: ((t2 - t1) * 1000) / N }));
}
main().catch(function (e) { console.log(JSON.stringify({ error: String(e) })); });
`;
}

export async function measureNjsCosts(iterations = 1000): Promise<NjsCosts> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const message = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9";
  const signature = sign("sha256", Buffer.from(message), { key: privateKey, dsaEncoding: "ieee-p1363" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const dir = mkdtempSync(join(tmpdir(), "jwt-cookie-bench-njs-"));
  try {
    const file = join(dir, "costs.js");
    writeFileSync(file, script(spki.toString("base64"), message, signature.toString("base64"), iterations));
    const version = (await run(NJS, ["-v"], { cwd: dir, timeoutMs: 10_000 })).trim();
    const out = (await run(NJS, [file], { cwd: dir, timeoutMs: 60_000 })).trim().split("\n").pop() ?? "";
    const parsed = JSON.parse(out) as { importAndVerifyUs?: number; verifyUs?: number; error?: string };
    if (parsed.error || parsed.importAndVerifyUs === undefined || parsed.verifyUs === undefined) throw new Error(`njs: ${parsed.error ?? out}`);
    return { version, importAndVerifyUs: parsed.importAndVerifyUs, verifyUs: parsed.verifyUs, iterations };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
