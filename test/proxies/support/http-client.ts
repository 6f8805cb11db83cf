/**
 * A plain HTTP/1.1 client for talking to a proxy on loopback with any Host header and any
 * header names (fetch forbids Host and normalises names; node:http sends them as given).
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function send(
  port: number,
  options: { host: string; path?: string; method?: string; headers?: Record<string, string> | Array<[string, string]> },
): Promise<Reply> {
  const extra = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  // Raw [name, value, name, value] keeps names and repeats exactly as written.
  const raw = [["Host", options.host], ["Connection", "close"], ...extra].flat();
  return new Promise((resolve, reject) => {
    // agent: false = a connection of its own, as "Connection: close" says. Node does not read
    // that header from a raw array, and its keep-alive agent would otherwise reuse a socket
    // that the server is closing (workerd closes one whose request body it did not read).
    const req = httpRequest({ host: "127.0.0.1", port, path: options.path ?? "/", method: options.method ?? "GET", headers: raw as unknown as Record<string, string>, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from 127.0.0.1:${port} within 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** The name=value of a Set-Cookie header for `name`, or undefined. */
export function cookieFromSetCookie(headers: IncomingHttpHeaders | Headers, name: string): string | undefined {
  const list = headers instanceof Headers ? headers.getSetCookie() : (headers["set-cookie"] ?? []);
  for (const line of list) {
    const first = line.split(";")[0]!;
    if (first.startsWith(`${name}=`)) return first.slice(name.length + 1);
  }
  return undefined;
}
