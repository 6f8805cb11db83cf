/**
 * A stand-in for the local verifier in part 6: a Node process of its own, like the verifier,
 * that answers forward auth with /verify's very headers and checks nothing
 * (stand-in-checker-process.ts). The same proxy asking it instead of the verifier shows the
 * ceiling of any checker written in Node on this machine: the proxy's forward-auth
 * sub-request, Node's HTTP server and one more process woken up per request, with no work.
 */
import { join } from "node:path";
import { freePort, startProcess } from "../../test/proxies/support/processes.js";
import { ROOT } from "./build.js";
import type { BenchServer } from "./signers.js";

export async function startStandInChecker(answerHeaders: Record<string, string>): Promise<BenchServer> {
  const port = await freePort();
  const child = await startProcess({
    name: "stand-in checker",
    command: process.execPath,
    args: ["--import", "tsx", join(ROOT, "scripts/bench/stand-in-checker-process.ts")],
    env: { ...process.env, PORT: String(port), ANSWER_HEADERS: JSON.stringify(answerHeaders) },
    cwd: ROOT,
    readyPorts: [port],
    timeoutMs: 30_000,
  });
  return { name: "stand-in checker (process)", url: `http://127.0.0.1:${port}`, close: () => child.stop() };
}
