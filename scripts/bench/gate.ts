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
import type { Plan, VariantStats } from "./ab.js";
import { compatibilityDate } from "./build.js";
import { compareCheckedPair } from "./checked-pair.js";
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
    const side = (host: string) => ({ port, host: `${host}:${port}` });
    const measured = await compareCheckedPair(generator, { checked: side(GATE_HOST), unchecked: side(PASS_HOST), cookie }, options.plan);
    return { gate: measured.checked, passThrough: measured.unchecked, ratio: measured.ratio };
  } finally {
    await mf.dispose();
  }
}

