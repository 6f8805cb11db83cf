/**
 * The load generator's worker thread: HTTP/1.1 over plain keep-alive TCP sockets with a
 * minimal response parser (status line, Content-Length or chunked), one request in flight
 * per connection. It costs the client far less CPU than node:http or fetch, which matters
 * when client and servers share two cores. Every run is bounded by a request count and a
 * deadline, and a hard stop destroys whatever is still open.
 */
import { connect, type Socket } from "node:net";
import { parentPort } from "node:worker_threads";
import type { LoadResult, LoadSpec, WorkerReply, WorkerRequest } from "./http-load.js";

const CRLF2 = Buffer.from("\r\n\r\n");

function requestBuffers(spec: LoadSpec): Buffer[] {
  const sets = spec.headerSets && spec.headerSets.length > 0 ? spec.headerSets : [{}];
  const body = spec.body ?? "";
  return sets.map((extra) => {
    const headers: Record<string, string> = { Host: `${spec.host}:${spec.port}`, ...spec.headers, ...extra };
    if (spec.method !== "GET" && spec.method !== "HEAD") headers["Content-Length"] = String(Buffer.byteLength(body));
    const lines = [`${spec.method} ${spec.path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`);
  });
}

/** Parses one response at a time out of a connection's byte stream. */
class ResponseParser {
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  private mode: "head" | "length" | "chunked" = "head";
  private remaining = 0;
  private closeAfter = false;

  constructor(private readonly headRequest: boolean) {}

  /** Feeds bytes; calls `done(status, close)` for each complete response. */
  feed(chunk: Buffer, done: (status: number, close: boolean) => void): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.mode === "head") {
        const end = this.buffer.indexOf(CRLF2);
        if (end < 0) return;
        const head = this.buffer.toString("latin1", 0, end);
        this.buffer = this.buffer.subarray(end + 4);
        const lines = head.split("\r\n");
        this.status = Number(lines[0]!.slice(9, 12));
        let length = -1;
        let chunked = false;
        this.closeAfter = false;
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i]!;
          const colon = line.indexOf(":");
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim().toLowerCase();
          if (name === "content-length") length = Number(value);
          else if (name === "transfer-encoding" && value.includes("chunked")) chunked = true;
          else if (name === "connection" && value === "close") this.closeAfter = true;
        }
        const noBody = this.headRequest || this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200);
        if (noBody || (!chunked && length <= 0)) {
          done(this.status, this.closeAfter);
          continue;
        }
        if (chunked) {
          this.mode = "chunked";
          this.remaining = -1;
        } else {
          this.mode = "length";
          this.remaining = length;
        }
      }
      if (this.mode === "length") {
        if (this.buffer.length < this.remaining) {
          this.remaining -= this.buffer.length;
          this.buffer = Buffer.alloc(0);
          return;
        }
        this.buffer = this.buffer.subarray(this.remaining);
        this.mode = "head";
        done(this.status, this.closeAfter);
        continue;
      }
      // chunked: remaining = -1 means "at a chunk-size line"
      if (this.remaining === -1) {
        const eol = this.buffer.indexOf("\r\n");
        if (eol < 0) return;
        const size = parseInt(this.buffer.toString("latin1", 0, eol), 16);
        this.buffer = this.buffer.subarray(eol + 2);
        if (size === 0) {
          // Trailers (rare) end with an empty line; usually it is just CRLF.
          const end = this.buffer.indexOf("\r\n");
          if (end < 0) {
            this.remaining = -2;
            return;
          }
          if (end === 0) this.buffer = this.buffer.subarray(2);
          else {
            const trailerEnd = this.buffer.indexOf(CRLF2);
            if (trailerEnd < 0) {
              this.remaining = -2;
              return;
            }
            this.buffer = this.buffer.subarray(trailerEnd + 4);
          }
          this.mode = "head";
          done(this.status, this.closeAfter);
          continue;
        }
        this.remaining = size + 2; // data + CRLF
      }
      if (this.remaining === -2) {
        // waiting for the end of the last chunk's trailer section
        const end = this.buffer.indexOf("\r\n");
        if (end < 0) return;
        if (end === 0) this.buffer = this.buffer.subarray(2);
        else {
          const trailerEnd = this.buffer.indexOf(CRLF2);
          if (trailerEnd < 0) return;
          this.buffer = this.buffer.subarray(trailerEnd + 4);
        }
        this.mode = "head";
        done(this.status, this.closeAfter);
        continue;
      }
      if (this.buffer.length < this.remaining) {
        this.remaining -= this.buffer.length;
        this.buffer = Buffer.alloc(0);
        return;
      }
      this.buffer = this.buffer.subarray(this.remaining);
      this.remaining = -1;
    }
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

function run(spec: LoadSpec): Promise<LoadResult> {
  const requests = requestBuffers(spec);
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const errorMessages = new Set<string>();
  let started = 0;
  let completed = 0;
  let errors = 0;
  let reconnects = 0;
  const sockets = new Set<Socket>();
  const t0 = performance.now();
  const deadline = t0 + spec.durationMs;
  let lastDone = t0;

  return new Promise((resolve) => {
    let open = 0;
    let finished = false;
    const finish = (hardStop: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(hard);
      for (const s of sockets) s.destroy();
      const sorted = latencies.sort((a, b) => a - b);
      const elapsedMs = Math.max(1, lastDone - t0);
      resolve({
        requests: completed,
        elapsedMs,
        perSecond: (completed / elapsedMs) * 1000,
        statuses,
        errors,
        errorMessages: [...errorMessages].slice(0, 5),
        reconnects,
        hardStop,
        latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
      });
    };
    // Whatever happens, a run ends: in-flight requests get graceMs after the deadline.
    const hard = setTimeout(() => finish(true), spec.durationMs + (spec.graceMs ?? 10_000));

    const mayStart = () => started < spec.maxRequests && performance.now() < deadline && errors <= (spec.maxErrors ?? 100);

    const connection = () => {
      open++;
      const parser = new ResponseParser(spec.method === "HEAD");
      const socket = connect({ host: spec.host, port: spec.port, noDelay: true });
      sockets.add(socket);
      let sentAt = 0;
      let connected = false;
      let inFlight = false;
      let closed = false;
      const send = () => {
        if (!mayStart()) {
          close();
          return;
        }
        const buffer = requests[started % requests.length]!;
        started++;
        inFlight = true;
        sentAt = performance.now();
        socket.write(buffer);
      };
      /** Ends this connection; with `replace`, first opens another if more requests may start. */
      const close = (replace = false) => {
        if (closed) return;
        closed = true;
        sockets.delete(socket);
        socket.destroy();
        if (replace && mayStart()) {
          reconnects++;
          connection();
        }
        open--;
        if (open === 0) finish(false);
      };
      socket.on("connect", () => {
        connected = true;
        send();
      });
      socket.on("data", (chunk: Buffer) => {
        parser.feed(chunk, (status, closeAfter) => {
          const now = performance.now();
          inFlight = false;
          completed++;
          lastDone = now;
          latencies.push(now - sentAt);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (closeAfter) close(true);
          else send();
        });
      });
      const fail = (message: string) => {
        if (closed) return;
        if (inFlight || !connected) {
          errors++;
          errorMessages.add(message);
          lastDone = performance.now();
        }
        close(true);
      };
      socket.on("error", (error) => fail(error.message));
      socket.on("end", () => fail("connection closed by the server"));
      socket.on("close", () => fail("connection closed"));
    };
    for (let i = 0; i < Math.min(spec.concurrency, spec.maxRequests); i++) connection();
    if (spec.maxRequests <= 0) finish(false);
  });
}

parentPort!.on("message", async (message: WorkerRequest) => {
  const reply: WorkerReply = { id: message.id, result: await run(message.spec) };
  parentPort!.postMessage(reply);
});
