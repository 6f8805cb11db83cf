/**
 * A small bounded-concurrency HTTP load generator. The work happens in a worker thread
 * (load-worker.ts), so the client never shares an event loop with a Node server under test
 * in this process; it still shares the machine's cores with every server, which the report
 * says. Every run is bounded by `maxRequests` and `durationMs` (+ a grace period, after
 * which open sockets are destroyed).
 */
import { Worker } from "node:worker_threads";

export interface LoadSpec {
  host: string;
  port: number;
  method: "GET" | "POST" | "HEAD";
  path: string;
  headers?: Record<string, string>;
  /** Extra headers per request, used in turn (request i gets headerSets[i % n]). */
  headerSets?: Record<string, string>[];
  body?: string;
  /** Connections, each with one request in flight (keep-alive). */
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  /** How long in-flight requests may take after the deadline before the run is cut. Default 10 s. */
  graceMs?: number;
  /** Stop starting requests after this many failed ones. Default 100. */
  maxErrors?: number;
}

export interface LoadResult {
  requests: number;
  elapsedMs: number;
  perSecond: number;
  statuses: Record<string, number>;
  errors: number;
  errorMessages: string[];
  reconnects: number;
  /** True when the run had to be cut at the grace deadline. */
  hardStop: boolean;
  latencyMs: { p50: number; p99: number; max: number };
}

export interface WorkerRequest {
  id: number;
  spec: LoadSpec;
}

export interface WorkerReply {
  id: number;
  result: LoadResult;
}

/** Requests with the expected status per second (a run full of 4xx/5xx counts for nothing). */
export function goodPerSecond(result: LoadResult, expectStatus: number): number {
  return ((result.statuses[expectStatus] ?? 0) / result.elapsedMs) * 1000;
}

export class LoadGenerator {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();

  constructor() {
    // Node 20 does not apply --import hooks to a worker's entry module: load tsx first, then the .ts file.
    const tsx = import.meta.resolve("tsx/esm/api");
    const entry = new URL("./load-worker.ts", import.meta.url).href;
    this.worker = new Worker(
      `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`,
      { eval: true },
    );
    this.worker.on("message", (reply: WorkerReply) => {
      this.pending.get(reply.id)?.resolve(reply.result);
      this.pending.delete(reply.id);
    });
    this.worker.on("error", (error) => {
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
  }

  run(spec: LoadSpec): Promise<LoadResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, spec } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** host/port of an http:// URL, for LoadSpec. */
export function endpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}
