/**
 * The comparison behind parts 6 and 7: a site that checks the cookie against its twin that
 * does not (same upstream, same requests with a valid cookie), in alternating rounds. Before
 * anything is measured, both sides must answer the upstream's 200 "ok" with the cookie and
 * the checking side must refuse without it, so a ratio can never come from a side that
 * answers an error quickly or does not check at all.
 */
import { request } from "node:http";
import { compareHttp, ratioOfRounds, type Plan, type VariantStats } from "./ab.js";
import type { LoadGenerator } from "./http-load.js";

/** Where one side is reached: a loopback port and the Host header that picks the site. */
export interface Side {
  port: number;
  host: string;
}

export interface CheckedPairResult {
  checked: VariantStats;
  unchecked: VariantStats;
  /** checked over unchecked, the median of back-to-back rounds. */
  ratio: number;
}

/** One GET with a chosen Host header, through node:http (fetch cannot set Host). */
function getWithHost(side: Side, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: side.port, path: "/dashboard", headers: { Host: side.host, ...headers }, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET /dashboard for ${side.host}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

export async function compareCheckedPair(
  generator: LoadGenerator,
  pair: { checked: Side; unchecked: Side; cookie: string },
  plan: Plan,
): Promise<CheckedPairResult> {
  for (const side of [pair.unchecked, pair.checked]) {
    const { status, body } = await getWithHost(side, { Cookie: pair.cookie });
    if (status !== 200 || body !== "ok") throw new Error(`${side.host}: expected the upstream's 200 "ok" with the cookie, got ${status} ${body.slice(0, 200)}`);
  }
  const refused = await getWithHost(pair.checked);
  if (refused.status === 200) throw new Error(`${pair.checked.host} answered 200 without a cookie: it is not checking`);
  const spec = (side: Side) => ({ host: "127.0.0.1", port: side.port, method: "GET" as const, path: "/dashboard", headers: { Host: side.host, Cookie: pair.cookie } });
  const stats = await compareHttp(
    generator,
    [
      { key: "unchecked", spec: spec(pair.unchecked), expectStatus: 200 },
      { key: "checked", spec: spec(pair.checked), expectStatus: 200 },
    ],
    plan,
  );
  const checked = stats.get("checked")!;
  const unchecked = stats.get("unchecked")!;
  return { checked, unchecked, ratio: ratioOfRounds(checked.rates, unchecked.rates) };
}
