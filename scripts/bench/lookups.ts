/**
 * Part 4: Home Assistant lookups per distinct token under concurrency. 1,000 POST /session
 * requests, all opened at once, carrying 50 distinct valid access tokens that the signer
 * has never seen, through the real signer and the Home Assistant double; the double counts
 * the WebSocket auth messages it received. Single flight + cache means exactly 1 per token.
 */
import type { HomeAssistantDouble } from "../../test/ha-double/index.js";
import { endpoint, type LoadGenerator } from "./http-load.js";
import type { BenchServer } from "./signers.js";

export interface LookupResult {
  server: string;
  requests: number;
  tokens: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  authMessages: number;
  perToken: number;
  elapsedMs: number;
}

export async function measureLookups(
  generator: LoadGenerator,
  server: BenchServer,
  ha: HomeAssistantDouble,
  options: { requests: number; tokens: number },
): Promise<LookupResult> {
  const tokens = Array.from({ length: options.tokens }, (_, i) => ha.accessToken(ha.addUser({ name: `Bench ${server.name} ${i}` }).id));
  const before = ha.stats.authMessages;
  const result = await generator.run({
    ...endpoint(server.url),
    method: "POST",
    path: "/session",
    headerSets: tokens.map((t) => ({ Authorization: `Bearer ${t}` })),
    concurrency: options.requests,
    maxRequests: options.requests,
    durationMs: 20_000,
    graceMs: 10_000,
    maxErrors: options.requests,
  });
  const authMessages = ha.stats.authMessages - before;
  return {
    server: server.name,
    requests: options.requests,
    tokens: options.tokens,
    ok: result.statuses[200] ?? 0,
    statuses: result.statuses,
    errors: result.errors,
    authMessages,
    perToken: authMessages / options.tokens,
    elapsedMs: result.elapsedMs,
  };
}
