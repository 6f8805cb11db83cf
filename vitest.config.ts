import { defineConfig } from "vitest/config";

// One runner for everything. Tests run in Node; the signer under test runs both in
// workerd (Miniflare via wrangler) and on Node, the frontend in Debian's Chromium, the
// proxies as the real Debian binaries. Everything listens on loopback only.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    pool: "forks",
    // Node 20 has the standard WebSocket client only behind this flag; the signer's
    // Home Assistant client uses it on Node exactly as it does in workerd.
    execArgv: ["--experimental-websocket", "--expose-gc"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
