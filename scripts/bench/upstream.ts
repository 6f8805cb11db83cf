/**
 * The protected service of the proxy and gate benchmarks: a node:http server on loopback (on
 * the bench process's main thread) that answers every request 200 with a two-byte body.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Upstream {
  url: string;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
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
