/**
 * Part 8 (issue 9): the local verifier's /verify against GET /bare on the same Node server.
 * The server is worker/verifier-node-server.ts's, rebuilt here with the verifier's app
 * wrapped by withBareRoute (as signers.ts does for the signer): same runtime, same
 * @hono/node-server, same app; /bare only added in front. It learns keys, check policy and
 * deny-list from the running Node signer, as `npm run verifier` does.
 *
 * Also the local verifier as its own process (`node --import tsx worker/verifier-node.ts`,
 * what `npm run verifier` runs), for the proxies that ask it (proxies.ts).
 */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { loadVerifierSettings, describeProblems } from "../../worker/config.js";
import { createVerifierApp } from "../../worker/verifier/app.js";
import { createVerifierRuntime } from "../../worker/verifier/runtime.js";
import { freePort, startProcess } from "../../test/proxies/support/processes.js";
import { compareHttp, ratioOfRounds, type Plan, type VariantStats } from "./ab.js";
import { BARE_ANSWER_PATH, BARE_PATH, withBareRoute } from "./bare-app.js";
import { ROOT } from "./build.js";
import { endpoint, type LoadGenerator } from "./http-load.js";
import type { BenchServer } from "./signers.js";

function verifierSettings(env: Record<string, string>) {
  const loaded = loadVerifierSettings(env);
  if (!loaded.ok) throw new Error(`verifier settings: ${describeProblems(loaded.problems)}`);
  return loaded.settings;
}

/** Waits for `ready()` to say yes, polling; fails after `timeoutMs` with `status()`. */
async function until(ready: () => Promise<boolean> | boolean, status: () => Promise<string> | string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`local verifier not ready: ${await status()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The in-process verifier of part 8: BARE_ANSWER_PATH can be told to answer like /verify. */
export interface VerifierBenchServer extends BenchServer {
  answerWith(headers: Record<string, string>): void;
}

/** The local verifier + /bare, in this process, ready (keys, policy and deny-list loaded). */
export async function startVerifierBenchServer(signerUrl: string): Promise<VerifierBenchServer> {
  const settings = { ...verifierSettings({ SIGNER_URL: signerUrl }), port: 0, host: "127.0.0.1" };
  const runtime = createVerifierRuntime(settings);
  const app = withBareRoute(createVerifierApp(runtime));
  runtime.start();
  const server = await new Promise<{ url: string; close(): Promise<void> }>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: settings.host }, (info: AddressInfo) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (s as { closeAllConnections?: () => void }).closeAllConnections?.();
            s.close(() => done());
          }),
      }),
    );
  });
  const close = async () => {
    runtime.stop();
    await server.close();
  };
  try {
    await until(
      () => runtime.current() !== undefined,
      () => JSON.stringify(runtime.health(Date.now())),
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { name: "local verifier (node)", url: server.url, close, answerWith: (headers) => app.answerWith(headers) };
}

/** `npm run verifier` as its own process on a free loopback port, once /healthz says it serves. */
export async function startVerifierProcess(signerUrl: string): Promise<BenchServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  verifierSettings({ SIGNER_URL: signerUrl, PORT: String(port) }); // fail here, with the key named, not in the child
  const child = await startProcess({
    name: "local verifier",
    command: process.execPath,
    args: ["--import", "tsx", join(ROOT, "worker/verifier-node.ts")],
    env: { ...process.env, SIGNER_URL: signerUrl, PORT: String(port), HOST: "127.0.0.1" },
    cwd: ROOT,
    readyPorts: [port],
    timeoutMs: 30_000,
  });
  const health = async () => {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text() };
  };
  try {
    await until(
      async () => (await health()).status === 200,
      async () => `${JSON.stringify(await health().catch((e: Error) => e.message))}\n${child.output()}`,
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { name: "local verifier (process)", url, close: () => child.stop() };
}

export interface VerifierLoadResult {
  bare: VariantStats;
  verify: VariantStats;
  ratio: number;
  /** GET /bare sent /verify's very request (its Cookie header): how much of the gap is the request's size. */
  bareSameRequest: VariantStats;
  /** A bare route answering with /verify's very headers, to that same request: how much is the answer's size. */
  bareSameAnswer: VariantStats;
  /** The headers /verify answered with (what bareSameAnswer sends back), byte count of name: value lines. */
  answerBytes: number;
  /** What /verify's request carries more than /bare's: its Cookie header line, in bytes. */
  cookieHeaderBytes: number;
}

/** Headers the HTTP server writes by itself for every answer, bare or not. */
const SERVER_HEADERS = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);

/**
 * The headers of `checkerUrl`'s /verify answer for `cookie`, less those every server adds by
 * itself; `query` as a proxy adds it (nginx's --check local config asks for X-Accel-Expires).
 */
export async function verifyAnswerHeaders(checkerUrl: string, cookie: string, query = ""): Promise<Record<string, string>> {
  const check = await fetch(`${checkerUrl}/verify${query}`, { headers: { Cookie: cookie }, signal: AbortSignal.timeout(10_000) });
  await check.arrayBuffer();
  if (check.status !== 200) throw new Error(`${checkerUrl}/verify refused the signer's fresh cookie (${check.status})`);
  return Object.fromEntries([...check.headers].filter(([name]) => !SERVER_HEADERS.has(name)));
}

/**
 * GET /verify with a valid cookie against GET /bare on the same verifier server, alternating
 * rounds. Two more bare variants in the same rounds split the gap: /bare sent /verify's
 * request (the request's size), then /bare-answer sent it too and answering /verify's
 * headers (the answer's size); what remains between that and /verify is the route.
 */
export async function measureVerifier(generator: LoadGenerator, server: VerifierBenchServer, cookie: string, plan: Plan): Promise<VerifierLoadResult> {
  const answer = await verifyAnswerHeaders(server.url, cookie);
  server.answerWith(answer);
  const target = endpoint(server.url);
  const stats = await compareHttp(
    generator,
    [
      { key: "bare", spec: { ...target, method: "GET", path: BARE_PATH }, expectStatus: 200 },
      { key: "verify", spec: { ...target, method: "GET", path: "/verify", headers: { Cookie: cookie } }, expectStatus: 200 },
      { key: "bare-same-request", spec: { ...target, method: "GET", path: BARE_PATH, headers: { Cookie: cookie } }, expectStatus: 200 },
      { key: "bare-same-answer", spec: { ...target, method: "GET", path: BARE_ANSWER_PATH, headers: { Cookie: cookie } }, expectStatus: 200 },
    ],
    plan,
  );
  const bare = stats.get("bare")!;
  const verify = stats.get("verify")!;
  const answerBytes = Object.entries(answer).reduce((n, [name, value]) => n + name.length + value.length + 4, 0);
  return {
    bare,
    verify,
    ratio: ratioOfRounds(verify.rates, bare.rates),
    bareSameRequest: stats.get("bare-same-request")!,
    bareSameAnswer: stats.get("bare-same-answer")!,
    answerBytes,
    cookieHeaderBytes: "Cookie: \r\n".length + cookie.length,
  };
}
