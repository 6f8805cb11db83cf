/** The protected service in tests: answers every request with the request it got, as JSON. */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface EchoedRequest {
  method: string;
  url: string;
  /** Lower-case names; repeated headers joined by ", " as Node does. */
  headers: Record<string, string | string[] | undefined>;
  /** Names exactly as they arrived, e.g. to see a Remote_User that slipped through. */
  headerNames: string[];
}

export interface EchoUpstream {
  url: string;
  port: number;
  received: EchoedRequest[];
  close(): Promise<void>;
}

function echo(req: IncomingMessage): EchoedRequest {
  const names = req.rawHeaders.filter((_, i) => i % 2 === 0);
  return { method: req.method ?? "", url: req.url ?? "", headers: req.headers, headerNames: names };
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const received: EchoedRequest[] = [];
  const server = createServer((req, res) => {
    const seen = echo(req);
    received.push(seen);
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json", "X-Echo": "upstream" });
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
