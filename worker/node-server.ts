/**
 * Serves the app on Node with @hono/node-server. Used by the Node entry and by the tests,
 * so both run the same code. The client address is the socket's peer, or, when that peer
 * is one of TRUSTED_PROXIES, the right-most X-Forwarded-For entry that is not a trusted proxy.
 */
import { serve, type ServerType } from "@hono/node-server";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "./app.js";
import type { Env } from "./config.js";
import { openRevocationFile } from "./node-revocation-file.js";

function normalise(address: string): string {
  return address.replace(/^::ffff:/, "");
}

export function clientAddressOf(incoming: IncomingMessage | undefined, forwardedFor: string | null, trustedProxies: string[]): string {
  const peer = normalise(incoming?.socket.remoteAddress ?? "unknown");
  if (!trustedProxies.includes(peer)) return peer;
  const chain = (forwardedFor ?? "").split(",").map((a) => normalise(a.trim())).filter(Boolean);
  for (let i = chain.length - 1; i >= 0; i--) if (!trustedProxies.includes(chain[i]!)) return chain[i]!;
  return peer;
}

export interface NodeSigner {
  server: ServerType;
  port: number;
  close(): Promise<void>;
}

export async function startNodeServer(options: {
  env: Env;
  port: number;
  host: string;
  trustedProxies: string[];
  /** Keep the deny-list in DATA_DIR/revoked-sessions.jsonl across restarts; unset = memory only. */
  dataDir?: string | undefined;
}): Promise<NodeSigner> {
  // The app sees the same env object on every request (so the runtime is built once);
  // the peer address travels beside the request instead of inside env.
  const addresses = new WeakMap<Request, string>();
  const file = options.dataDir === undefined ? undefined : await openRevocationFile(options.dataDir, Date.now());
  const app = createApp({
    platform: "node",
    clientAddress: (c) => addresses.get(c.req.raw) ?? "unknown",
    ...(file ? { revocationStore: { store: file.store, restored: file.restored } } : {}),
  });
  return new Promise((resolve) => {
    const server = serve(
      {
        fetch: (request, bindings) => {
          addresses.set(request, clientAddressOf(bindings.incoming as IncomingMessage, request.headers.get("X-Forwarded-For"), options.trustedProxies));
          return app.fetch(request, options.env);
        },
        port: options.port,
        hostname: options.host,
      },
      (info: AddressInfo) =>
        resolve({
          server,
          port: info.port,
          close: () =>
            new Promise<void>((done) => {
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
              server.close(() => void (file?.close() ?? Promise.resolve()).then(() => done()));
            }),
        }),
    );
  });
}
