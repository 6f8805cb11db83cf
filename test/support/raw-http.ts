/**
 * One HTTP/1.1 request written byte for byte on a fresh loopback connection, for what fetch()
 * cannot send: the same header on several lines, names in any case. Returns the status and
 * the answer's headers (names in lower case, repeated ones joined by ", ") once the answer is
 * complete (Content-Length, chunked, or the server closing), whether or not the server then
 * honours "Connection: close".
 */
import { connect } from "node:net";

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
}

function parseHead(head: string): RawAnswer | undefined {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  if (!Number.isInteger(status)) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status, headers };
}

/** True once `body` holds all of the answer's body (false: read until the server closes). */
function bodyComplete(answer: RawAnswer, body: string): boolean {
  const length = answer.headers["content-length"];
  if (length !== undefined) return body.length >= Number(length);
  if (/chunked/i.test(answer.headers["transfer-encoding"] ?? "")) return body.startsWith("0\r\n\r\n") || body.includes("\r\n0\r\n\r\n");
  return false;
}

export function rawRequest(url: string, path: string, headerLines: Array<[string, string]>, timeoutMs = 10_000): Promise<RawAnswer> {
  const { hostname, port, host } = new URL(url);
  const request = [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...headerLines.map(([name, value]) => `${name}: ${value}`), "Connection: close", "", ""].join("\r\n");
  return new Promise((resolve, reject) => {
    let text = "";
    let settled = false;
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request, "latin1"));
    const settle = (error: Error | undefined, answer?: RawAnswer) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const complete = (closed: boolean) => {
      const end = text.indexOf("\r\n\r\n");
      const answer = end < 0 ? undefined : parseHead(text.slice(0, end));
      if (answer && (closed || bodyComplete(answer, text.slice(end + 4)))) settle(undefined, answer);
      else if (closed) settle(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
    };
    socket.setTimeout(timeoutMs, () => settle(new Error(`no complete answer from ${url}${path} within ${timeoutMs} ms`)));
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      complete(false);
    });
    socket.on("error", (error) => settle(error));
    socket.on("close", () => complete(true));
  });
}
