/**
 * One GET with a chosen Host header, through node:http (fetch cannot set Host, and the
 * proxies and Miniflare pick the site by it): the benchmark's check, before measuring, that
 * a side answers what it should.
 */
import { request } from "node:http";

export function getWithHost(port: number, host: string, headers: Record<string, string> = {}, path = "/dashboard"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { Host: host, ...headers }, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} for ${host}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}
