/**
 * Parts 1 and 2: /verify with a valid cookie and /session with a warm Home Assistant
 * cache, each against GET /bare on the same server, in alternating rounds.
 */
import { compareHttp, type Plan, type VariantStats } from "./ab.js";
import { BARE_PATH } from "./bare-app.js";
import { endpoint, type LoadGenerator } from "./http-load.js";
import type { BenchServer } from "./signers.js";

export interface SignerSession {
  /** "name=value" of the cookie that POST /session set. */
  cookie: string;
}

/** Signs in once through the real route (this also warms the Home Assistant lookup cache). */
export async function signIn(server: BenchServer, haToken: string): Promise<SignerSession> {
  const response = await fetch(`${server.url}/session`, {
    method: "POST",
    headers: { Authorization: `Bearer ${haToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  const setCookie = response.headers.get("set-cookie");
  await response.arrayBuffer();
  if (response.status !== 200 || !setCookie) throw new Error(`${server.name}: POST /session answered ${response.status}, no cookie`);
  const check = await fetch(`${server.url}/verify`, { headers: { Cookie: setCookie.split(";")[0]! }, signal: AbortSignal.timeout(10_000) });
  await check.arrayBuffer();
  if (check.status !== 200) throw new Error(`${server.name}: /verify refused the fresh cookie (${check.status})`);
  return { cookie: setCookie.split(";")[0]! };
}

export interface SignerLoadResult {
  server: string;
  bare: VariantStats;
  verify: VariantStats;
  session: VariantStats;
}

export async function measureSigner(
  generator: LoadGenerator,
  server: BenchServer,
  haToken: string,
  plan: Plan,
): Promise<SignerLoadResult> {
  const { cookie } = await signIn(server, haToken);
  const target = endpoint(server.url);
  const stats = await compareHttp(
    generator,
    [
      { key: "bare", spec: { ...target, method: "GET", path: BARE_PATH }, expectStatus: 200 },
      { key: "verify", spec: { ...target, method: "GET", path: "/verify", headers: { Cookie: cookie } }, expectStatus: 200 },
      {
        key: "session",
        spec: { ...target, method: "POST", path: "/session", headers: { Authorization: `Bearer ${haToken}` } },
        expectStatus: 200,
      },
    ],
    plan,
  );
  return { server: server.name, bare: stats.get("bare")!, verify: stats.get("verify")!, session: stats.get("session")! };
}
