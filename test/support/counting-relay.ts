/**
 * An HTTP relay in front of the signer that counts what reaches it, by path, and can be
 * pointed at another signer or cut off (connections refused), as when the signer is down,
 * or hold its answers back for a while, as a slow network or a busy server would.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingRelay {
  url: string;
  /** Requests relayed so far, by path (without query). */
  counts: Map<string, number>;
  count(path: string): number;
  total(): number;
  reset(): void;
  /** Relay to another signer from now on. */
  retarget(url: string): void;
  /** Hold every answer this long before passing it on (0: at once, the default). */
  delayAnswers(ms: number): void;
  /** Refuse every connection until resume() (the signer is "stopped"). */
  cutOff(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startCountingRelay(target: string): Promise<CountingRelay> {
  let to = target;
  let answerDelayMs = 0;
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://relay").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    fetch(`${to}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, redirect: "manual" })
      .then(async (response) => {
        const body = Buffer.from(await response.arrayBuffer());
        if (answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          if (name !== "content-encoding" && name !== "transfer-encoding" && name !== "connection") headers[name] = value;
        });
        res.writeHead(response.status, headers).end(body);
      })
      .catch(() => res.writeHead(502).end());
  });
  const listen = () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  let port = 0;
  await listen();
  port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    count: (path) => counts.get(path) ?? 0,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
    retarget: (url) => void (to = url),
    delayAnswers: (ms) => void (answerDelayMs = ms),
    cutOff: stop,
    resume: listen,
    close: async () => {
      if (server.listening) await stop();
    },
  };
}
