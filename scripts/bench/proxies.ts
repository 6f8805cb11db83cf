/**
 * Part 6: the cost of authentication per real proxy. Each proxy runs once, as one process,
 * with two sites on two loopback ports in front of the same upstream (a tiny node:http
 * server answering 200): the authenticated site exactly as `npm run proxy-config` generates
 * it (Caddy forward_auth and nginx auth_request asking the Node signer's /verify; nginx
 * with njs and HAProxy with jwt_verify checking the JWT themselves), and a plain pass-through site with no auth at
 * all. Same requests (a valid cookie), same concurrency, alternating rounds.
 * Processes come from the proxy tests' helpers: temp dirs, random ports, stopped by PID.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateProxyConfig } from "../proxy-config/generate.js";
import { freePort } from "../../test/proxies/support/processes.js";
import { startCaddy, startHaproxy, startNginx, type RunningProxy } from "../../test/proxies/support/proxies.js";
import { buildProxyConfig, writeOutDir } from "../proxy-config/out-dir.js";
import { compareHttp, ratioOfRounds, type Plan, type VariantStats } from "./ab.js";
import type { LoadGenerator } from "./http-load.js";

export const BENCH_HOST = "bench.example.test";

export type ProxyKind = "caddy" | "nginx" | "nginx-native" | "haproxy";

export interface ProxyResult {
  proxy: ProxyKind;
  how: string;
  auth: VariantStats;
  plain: VariantStats;
  ratio: number;
  /** HAProxy: jwt_payload_query/jwt_header_query calls in the generated config. */
  jwtQueries?: number;
}

export interface ProxyFailure {
  proxy: ProxyKind;
  how: string;
  error: string;
}

interface Upstream {
  url: string;
  close(): Promise<void>;
}

/** The protected service: 200 with a two-byte body, nothing else. */
async function startUpstream(): Promise<Upstream> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": "2" });
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
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
  "nginx-native": "nginx njs (no signer call)",
  haproxy: "HAProxy jwt_verify (no signer call)",
};

export async function measureProxies(
  generator: LoadGenerator,
  options: { env: Record<string, string>; signerUrl: string; cookie: string; publicKeyPem: string; plan: Plan },
): Promise<Array<ProxyResult | ProxyFailure>> {
  const upstream = await startUpstream();
  const keyDir = mkdtempSync(join(tmpdir(), "jwt-cookie-bench-key-"));
  const pemPath = join(keyDir, "jwt-cookie.pem");
  writeFileSync(pemPath, options.publicKeyPem);
  const results: Array<ProxyResult | ProxyFailure> = [];
  try {
    for (const proxy of ["caddy", "nginx", "nginx-native", "haproxy"] as const) {
      let running: RunningProxy | undefined;
      let jwtQueries: number | undefined;
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
        } else if (proxy === "nginx-native") {
          // As a user sets it up: --out DIR (keys fetched from the signer), include DIR/*.conf.
          const outDir = join(keyDir, "nginx-native");
          const built = await buildProxyConfig(["nginx", ...common, "--check", "native", "--signer", options.signerUrl, "--out", outDir], options.env);
          if (!built.ok) throw new Error(built.error);
          writeOutDir(built);
          running = await startNginx([`include ${outDir}/*.conf;`, plain.nginx(plainPort, upstream.url)], [authPort, plainPort], { njs: true });
        } else {
          const config = generated(["haproxy", ...common, "--public-url", options.signerUrl, "--pem-path", pemPath], options.env);
          jwtQueries = config.match(/jwt_(payload|header)_query\(/g)?.length ?? 0;
          running = await startHaproxy([config, plain.haproxy(plainPort, upstream.url)], [authPort, plainPort]);
        }
        const request = (port: number) => ({
          host: "127.0.0.1",
          port,
          method: "GET" as const,
          path: "/dashboard",
          headers: { Host: `${BENCH_HOST}:${port}`, Cookie: options.cookie },
        });
        const stats = await compareHttp(
          generator,
          [
            { key: "plain", spec: request(plainPort), expectStatus: 200 },
            { key: "auth", spec: request(authPort), expectStatus: 200 },
          ],
          options.plan,
        );
        const auth = stats.get("auth")!;
        const plainStats = stats.get("plain")!;
        results.push({
          proxy,
          how: HOW[proxy],
          auth,
          plain: plainStats,
          ratio: ratioOfRounds(auth.rates, plainStats.rates),
          ...(jwtQueries !== undefined ? { jwtQueries } : {}),
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
