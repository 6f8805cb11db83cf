/**
 * Forward auth keeps its connection to the checker: Caddy's forward_auth does not read the
 * body of a 2xx answer, and Go's HTTP client only reuses a connection whose answer it read
 * to the end, so a 200 from /verify sent with chunked encoding (Node's default for an empty
 * body) costs Caddy a new TCP connection per request (benchmarks: a quarter of its
 * throughput). /verify's 200 therefore says "Content-Length: 0". Counted here with a TCP
 * relay in front of the checker: sequential requests through Caddy must share connections.
 * Node only: workerd frames its own answers.
 */
import { createConnection, createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVerifier, type VerifierUnderTest } from "../support/verifier.js";
import { send } from "./support/http-client.js";
import { caddyLocalSite, caddySite } from "./support/generated.js";
import { freePort } from "./support/processes.js";
import { startCaddy, type RunningProxy } from "./support/proxies.js";
import { COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

const REQUESTS = 30;

interface CountingRelay {
  url: string;
  connections(): number;
  close(): Promise<void>;
}

/** Relays TCP to `target` and counts the connections made to it. */
async function countingRelay(target: URL): Promise<CountingRelay> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    socket.pipe(upstream).pipe(socket);
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("Caddy forward_auth reuses its connection to the checker", () => {
  let world: World;
  let verifier: VerifierUnderTest;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    world = await startWorld("node");
    verifier = await startVerifier(world.signer.url);
    await verifier.ready();
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await verifier?.close();
    await world?.close();
  });

  async function throughCaddy(site: (checker: string, port: number) => string, checker: string): Promise<{ statuses: number[]; connections: number }> {
    const relay = await countingRelay(new URL(checker));
    cleanups.push(() => relay.close());
    const port = await freePort();
    const caddy: RunningProxy = await startCaddy([site(relay.url, port)], [port]);
    cleanups.push(() => caddy.stop());
    const cookie = await world.cookieFor(world.user);
    const statuses: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const reply = await send(port, { host: `${OPEN_HOST}:${port}`, path: `/page/${i}`, headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
      statuses.push(reply.status);
    }
    return { statuses, connections: relay.connections() };
  }

  it("to the local verifier (--check local)", async () => {
    const { statuses, connections } = await throughCaddy((v, port) => caddyLocalSite(world.env, OPEN_HOST, world.upstream.url, v, port), verifier.url);
    expect(statuses).toEqual(Array(REQUESTS).fill(200));
    expect(connections).toBeLessThanOrEqual(2);
  }, 60_000);

  it("to the Node signer (--check signer)", async () => {
    const { statuses, connections } = await throughCaddy((s, port) => caddySite(world.env, OPEN_HOST, world.upstream.url, s, port), world.signer.url);
    expect(statuses).toEqual(Array(REQUESTS).fill(200));
    expect(connections).toBeLessThanOrEqual(2);
  }, 60_000);
});
