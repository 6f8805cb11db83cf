/**
 * Serves the local verifier on Node with @hono/node-server. Used by the verifier's entry
 * (verifier-node.ts) and by the tests, so both run the same code.
 */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { VerifierSettings } from "./config.js";
import { createVerifierApp } from "./verifier/app.js";
import { createVerifierRuntime, type VerifierRuntime } from "./verifier/runtime.js";

export interface RunningVerifier {
  server: ServerType;
  port: number;
  runtime: VerifierRuntime;
  close(): Promise<void>;
}

export function startVerifierServer(settings: VerifierSettings): Promise<RunningVerifier> {
  const runtime = createVerifierRuntime(settings);
  const app = createVerifierApp(runtime);
  runtime.start();
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: settings.port, hostname: settings.host }, (info: AddressInfo) =>
      resolve({
        server,
        port: info.port,
        runtime,
        close: () =>
          new Promise<void>((done) => {
            runtime.stop();
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      }),
    );
  });
}
