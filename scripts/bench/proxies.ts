/**
 * Part 6: the cost of authentication per real proxy. Each proxy runs once per mode, as one
 * process, with two sites on two loopback ports in front of the same upstream (a tiny
 * node:http server answering 200): the authenticated site exactly as `npm run proxy-config`
 * generates it, and a plain pass-through site with no auth at all. Modes: Caddy forward_auth
 * and nginx auth_request asking the Node signer's /verify (--check signer, a hop per
 * request) or the local verifier's (--check local, its own process on loopback); nginx with
 * njs and HAProxy with jwt_verify checking the JWT themselves (--check native). As a
 * baseline for the local verifier's rows, the same --check local configs asking a Node
 * process that answers /verify's headers and checks nothing (stand-in-checker.ts). Same
 * requests (a valid cookie), same concurrency, alternating rounds.
 * Processes come from the proxy tests' helpers: temp dirs, random ports, stopped by PID.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateProxyConfig } from "../proxy-config/generate.js";
import { freePort } from "../../test/proxies/support/processes.js";
import { startCaddy, startHaproxy, startNginx, type RunningProxy } from "../../test/proxies/support/proxies.js";
import { buildProxyConfig, writeOutDir } from "../proxy-config/out-dir.js";
import type { Plan, VariantStats } from "./ab.js";
import type { LoadGenerator } from "./http-load.js";
import { measureNjsCosts, type NjsCosts } from "./njs-costs.js";
import { compareCheckedPair } from "./checked-pair.js";
import { startUpstream } from "./upstream.js";

export const BENCH_HOST = "bench.example.test";

export type ProxyKind = "caddy" | "nginx" | "caddy-local" | "caddy-stand-in" | "nginx-local" | "nginx-stand-in" | "nginx-native" | "haproxy";

/** The proxy binary behind each kind (for "the same caddy without auth"). */
export const PROXY_BINARY: Record<ProxyKind, "caddy" | "nginx" | "haproxy"> = {
  caddy: "caddy",
  nginx: "nginx",
  "caddy-local": "caddy",
  "caddy-stand-in": "caddy",
  "nginx-local": "nginx",
  "nginx-stand-in": "nginx",
  "nginx-native": "nginx",
  haproxy: "haproxy",
};

export const PROXY_KINDS: readonly ProxyKind[] = ["caddy", "nginx", "caddy-local", "caddy-stand-in", "nginx-local", "nginx-stand-in", "nginx-native", "haproxy"];

/** The kinds that are baselines for the local verifier's rows (stand-in-checker.ts), not product modes. */
export const STAND_IN_OF: Partial<Record<ProxyKind, ProxyKind>> = { "caddy-stand-in": "caddy-local", "nginx-stand-in": "nginx-local" };

export interface ProxyResult {
  proxy: ProxyKind;
  how: string;
  auth: VariantStats;
  plain: VariantStats;
  ratio: number;
  /** HAProxy: claim reads (json_query on the payload, decoded once) in the generated config. */
  claimReads?: number;
  /** nginx native: the per-request cryptography of its check, measured with the njs CLI. */
  njs?: NjsCosts | { error: string };
}

export interface ProxyFailure {
  proxy: ProxyKind;
  how: string;
  error: string;
}

function generated(args: string[], env: Record<string, string>): string {
  const result = generateProxyConfig(args, env);
  if (!result.ok) throw new Error(`proxy-config ${args.join(" ")}: ${result.error}`);
  return `${result.config}\n`;
}

/** Pass-through sites with no authentication: the comparison, not a product config. */
const plain = {
  caddy: (port: number, upstream: string) => `http://${BENCH_HOST}:${port} {\n\tbind 127.0.0.1\n\treverse_proxy ${upstream}\n}\n`,
  nginx: (port: number, upstream: string) => `server {
    listen 127.0.0.1:${port};
    server_name ${BENCH_HOST};
    location / {
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_http_version 1.1;
        proxy_pass ${upstream};
    }
}
`,
  // Same defaults as the generated file; HAProxy reads the files in order, one process.
  haproxy: (port: number, upstream: string) => `defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s

frontend bench_plain
    bind 127.0.0.1:${port}
    default_backend bench_plain_upstream

backend bench_plain_upstream
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    server upstream ${new URL(upstream).host}
`,
};

const HOW: Record<ProxyKind, string> = {
  caddy: "Caddy forward_auth → Node signer /verify",
  nginx: "nginx auth_request → Node signer /verify",
  "caddy-local": "Caddy forward_auth → local verifier /verify",
  "caddy-stand-in": "Caddy forward_auth → a Node process that checks nothing",
  "nginx-local": "nginx auth_request → local verifier /verify",
  "nginx-stand-in": "nginx auth_request → a Node process that checks nothing",
  "nginx-native": "nginx njs (no signer call)",
  haproxy: "HAProxy jwt_verify (no signer call)",
};

export async function measureProxies(
  generator: LoadGenerator,
  options: {
    env: Record<string, string>;
    signerUrl: string;
    /** The local verifier (its own process, as `npm run verifier` runs it) for --check local. */
    verifierUrl: string;
    /** A Node process answering /verify's headers without checking (stand-in-checker.ts), in the verifier's place. */
    standInUrl: string;
    cookie: string;
    publicKeyPem: string;
    plan: Plan;
    kinds?: readonly ProxyKind[];
  },
): Promise<Array<ProxyResult | ProxyFailure>> {
  const upstream = await startUpstream();
  const keyDir = mkdtempSync(join(tmpdir(), "jwt-cookie-bench-key-"));
  const pemPath = join(keyDir, "jwt-cookie.pem");
  writeFileSync(pemPath, options.publicKeyPem);
  const results: Array<ProxyResult | ProxyFailure> = [];
  try {
    for (const proxy of options.kinds ?? PROXY_KINDS) {
      let running: RunningProxy | undefined;
      let claimReads: number | undefined;
      let njs: NjsCosts | { error: string } | undefined;
      try {
        const authPort = await freePort();
        const plainPort = await freePort();
        const common = ["--host", BENCH_HOST, "--upstream", upstream.url, "--listen", `127.0.0.1:${authPort}`];
        if (proxy === "caddy") {
          const site = generated(["caddy", ...common, "--check", "signer", "--signer", options.signerUrl], options.env);
          running = await startCaddy([site, plain.caddy(plainPort, upstream.url)], [authPort, plainPort]);
        } else if (proxy === "nginx") {
          const server = generated(["nginx", ...common, "--check", "signer", "--signer", options.signerUrl], options.env);
          running = await startNginx([server, plain.nginx(plainPort, upstream.url)], [authPort, plainPort]);
        } else if (proxy === "caddy-local" || proxy === "caddy-stand-in") {
          const checker = proxy === "caddy-local" ? options.verifierUrl : options.standInUrl;
          const site = generated(["caddy", ...common, "--check", "local", "--verifier", checker], options.env);
          running = await startCaddy([site, plain.caddy(plainPort, upstream.url)], [authPort, plainPort]);
        } else if (proxy === "nginx-local" || proxy === "nginx-stand-in") {
          const checker = proxy === "nginx-local" ? options.verifierUrl : options.standInUrl;
          // The approval cache in the temp dir, opened to nginx's worker user (as /var/lib/nginx is).
          chmodSync(keyDir, 0o755);
          const cacheDir = join(keyDir, `${proxy}-approvals`);
          const server = generated(["nginx", ...common, "--check", "local", "--verifier", checker, "--cache-dir", cacheDir], options.env);
          running = await startNginx([server, plain.nginx(plainPort, upstream.url)], [authPort, plainPort]);
        } else if (proxy === "nginx-native") {
          // As a user sets it up: --out DIR (keys fetched from the signer), include DIR/*.conf.
          const outDir = join(keyDir, "nginx-native");
          // The approval cache in the same temp dir, opened to nginx's worker user (as /var/lib/nginx is).
          chmodSync(keyDir, 0o755);
          const checkListen = `127.0.0.1:${await freePort()}`;
          const nativeArgs = ["--check", "native", "--signer", options.signerUrl, "--out", outDir, "--check-listen", checkListen, "--cache-dir", join(outDir, "cache")];
          const built = await buildProxyConfig(["nginx", ...common, ...nativeArgs], options.env);
          if (!built.ok) throw new Error(built.error);
          writeOutDir(built);
          // Measured before nginx starts, so that nothing else of this part runs meanwhile.
          njs = await measureNjsCosts().catch((error: Error) => ({ error: error.message.split("\n")[0]! }));
          running = await startNginx([`include ${outDir}/*.conf;`, plain.nginx(plainPort, upstream.url)], [authPort, plainPort], { njs: true });
        } else {
          const config = generated(["haproxy", ...common, "--public-url", options.signerUrl, "--pem-path", pemPath], options.env);
          claimReads = config.match(/json_query\(/g)?.length ?? 0;
          running = await startHaproxy([config, plain.haproxy(plainPort, upstream.url)], [authPort, plainPort]);
        }
        const side = (port: number) => ({ port, host: `${BENCH_HOST}:${port}` });
        const measured = await compareCheckedPair(generator, { checked: side(authPort), unchecked: side(plainPort), cookie: options.cookie }, options.plan);
        results.push({
          proxy,
          how: HOW[proxy],
          auth: measured.checked,
          plain: measured.unchecked,
          ratio: measured.ratio,
          ...(claimReads !== undefined ? { claimReads } : {}),
          ...(njs !== undefined ? { njs } : {}),
        });
      } catch (error) {
        results.push({ proxy, how: HOW[proxy], error: (error as Error).message.split("\n").slice(0, 3).join(" ") });
      } finally {
        await running?.stop();
      }
    }
  } finally {
    await upstream.close();
    rmSync(keyDir, { recursive: true, force: true });
  }
  return results;
}
