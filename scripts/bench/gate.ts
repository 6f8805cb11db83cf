/**
 * Part 7 (issue 10): the Worker as the gate against the same Worker runtime passing requests
 * through with no check, in workerd. One Miniflare, three workers:
 *   - "gate": the bench Worker bundle (the product's Worker as deployed, + /bare) with
 *     GATED_HOSTS = GATE_HOST, the REVOKED_SESSIONS KV binding as wrangler.toml declares it,
 *     routed for GATE_HOST (and the fallback for every other host: its signer routes);
 *   - "pass-through": `fetch(request)` and nothing else, routed for PASS_HOST;
 *   - "origin-router": both workers' outbound service, the one the gate tests use
 *     (test/support/signer.ts): it sends a request for either hostname to the upstream, as
 *     Cloudflare sends a Worker's subrequest for its own zone to the origin.
 * So both sides take the same path (Miniflare's entry, a route match, one worker, the
 * router, the upstream), and the difference is the gate's check and header rewrite. Same
 * requests (a valid cookie from the gate's own POST /session), same load generator.
 */
import { Miniflare } from "miniflare";
import { dirname } from "node:path";
import { ORIGIN_ROUTER } from "../../test/support/signer.js";
import { compareHttp, ratioOfRounds, type Plan, type VariantStats } from "./ab.js";
import { compatibilityDate } from "./build.js";
import { getWithHost } from "./host-get.js";
import type { LoadGenerator } from "./http-load.js";
import { signIn } from "./signer-load.js";
import type { Upstream } from "./upstream.js";

export const GATE_HOST = "gate.example.test";
export const PASS_HOST = "pass.example.test";

/** The "no check" side: the request as it came, to the origin behind its hostname. */
export const PASS_THROUGH_WORKER = `export default { fetch: (request) => fetch(request) };`;

export interface GateResult {
  gate: VariantStats;
  passThrough: VariantStats;
  ratio: number;
}

export async function measureGate(
  generator: LoadGenerator,
  options: { benchScript: string; env: Record<string, string>; upstream: Upstream; haToken: string; plan: Plan },
): Promise<GateResult> {
  const date = compatibilityDate();
  const router = { modules: true, compatibilityDate: date, outboundService: "origin-router" };
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        ...router,
        name: "gate",
        scriptPath: options.benchScript,
        modulesRoot: dirname(options.benchScript),
        kvNamespaces: ["REVOKED_SESSIONS"],
        // The gate's settings (config.ts): PUBLIC_URL for its sign-in redirects, the gated host under COOKIE_DOMAIN.
        bindings: { ...options.env, GATED_HOSTS: GATE_HOST, PUBLIC_URL: "http://auth.example.test", COOKIE_DOMAIN: ".example.test", COOKIE_SECURE: "false" },
        routes: [`${GATE_HOST}/*`],
      },
      { ...router, name: "pass-through", script: PASS_THROUGH_WORKER, routes: [`${PASS_HOST}/*`] },
      {
        name: "origin-router",
        modules: true,
        script: ORIGIN_ROUTER,
        compatibilityDate: date,
        bindings: { ORIGINS: JSON.stringify({ [GATE_HOST]: options.upstream.url, [PASS_HOST]: options.upstream.url }) },
      },
    ],
  });
  try {
    const url = (await mf.ready).origin;
    const port = Number(new URL(url).port);
    // Signed in at the signer's own routes (any host that is not gated).
    const { cookie } = await signIn({ name: "workerd (gate)", url, close: async () => undefined }, options.haToken);
    const request = (host: string) => ({ host: "127.0.0.1", port, method: "GET" as const, path: "/dashboard", headers: { Host: `${host}:${port}`, Cookie: cookie } });
    // Each side answers 200 through the upstream before anything is measured (a 3xx/401 would mean no check passed) ...
    for (const host of [GATE_HOST, PASS_HOST]) {
      const { status, body } = await getWithHost(port, `${host}:${port}`, { Cookie: cookie });
      if (status !== 200 || body !== "ok") throw new Error(`${host}: expected the upstream's 200 "ok", got ${status} ${body.slice(0, 200)}`);
    }
    // ... and the gate really checks: without the cookie it refuses.
    const refused = await getWithHost(port, `${GATE_HOST}:${port}`);
    if (refused.status === 200) throw new Error(`${GATE_HOST} answered 200 without a cookie: the gate is not checking`);
    const stats = await compareHttp(
      generator,
      [
        { key: "pass-through", spec: request(PASS_HOST), expectStatus: 200 },
        { key: "gate", spec: request(GATE_HOST), expectStatus: 200 },
      ],
      options.plan,
    );
    const gate = stats.get("gate")!;
    const passThrough = stats.get("pass-through")!;
    return { gate, passThrough, ratio: ratioOfRounds(gate.rates, passThrough.rates) };
  } finally {
    await mf.dispose();
  }
}

