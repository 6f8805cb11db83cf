/**
 * What one protected page view costs the signer (issue 9; the figures in docs/cloudflare.md):
 * a page and 30 assets through Caddy, with the signer in workerd behind a relay that counts
 * every request reaching it. Caddy → signer (--check signer): one /verify per request, 31.
 * Caddy → local verifier (--check local): 0, the verifier's polls aside, which are per
 * interval (deny-list feed) and per refresh (keys, policy), never per request.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCountingRelay, type CountingRelay } from "../support/counting-relay.js";
import { startVerifier, type VerifierUnderTest } from "../support/verifier.js";
import { CHECK_POLICY_PATH, JWKS_PATH, REVOCATIONS_PATH } from "../../worker/checking/check-policy-document.js";
import { caddyLocalSite, caddySite } from "./support/generated.js";
import { send } from "./support/http-client.js";
import { freePort } from "./support/processes.js";
import { startCaddy, type RunningProxy } from "./support/proxies.js";
import { COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

const ASSETS = 30;
const POLL_MS = 500;

describe("requests that reach the signer per protected page view (page + 30 assets, Caddy, signer in workerd)", () => {
  let world: World;
  let relay: CountingRelay;
  let verifier: VerifierUnderTest;
  let viaSigner: RunningProxy;
  let viaVerifier: RunningProxy;
  let ports: { signer: number; verifier: number };
  let cookie: string;

  beforeAll(async () => {
    world = await startWorld("workerd");
    relay = await startCountingRelay(world.signer.url);
    verifier = await startVerifier(relay.url, { REVOCATIONS_POLL: `${POLL_MS}ms` });
    await verifier.ready();
    ports = { signer: await freePort(), verifier: await freePort() };
    viaSigner = await startCaddy([caddySite(world.env, OPEN_HOST, world.upstream.url, relay.url, ports.signer)], [ports.signer]);
    viaVerifier = await startCaddy([caddyLocalSite(world.env, OPEN_HOST, world.upstream.url, verifier.url, ports.verifier)], [ports.verifier]);
    cookie = await world.cookieFor(world.user);
  });
  afterAll(async () => {
    await viaSigner?.stop();
    await viaVerifier?.stop();
    await verifier?.close();
    await relay?.close();
    await world?.close();
  });

  async function pageView(port: number): Promise<void> {
    const paths = ["/dashboard", ...Array.from({ length: ASSETS }, (_, i) => `/assets/${i}.js`)];
    const replies = await Promise.all(paths.map((path) => send(port, { host: `${OPEN_HOST}:${port}`, path, headers: { Cookie: `${COOKIE_NAME}=${cookie}` } })));
    expect(replies.map((r) => r.status)).toEqual(paths.map(() => 200));
    expect(replies.every((r) => r.headers["x-echo"] === "upstream")).toBe(true);
  }

  test("--check signer: every request of the page asks the signer (31)", async () => {
    relay.reset();
    await pageView(ports.signer);
    expect(relay.count("/verify")).toBe(ASSETS + 1);
  });

  test("--check local: none of the page's requests reaches the signer; polls are per interval", async () => {
    relay.reset();
    const started = Date.now();
    for (let view = 0; view < 3; view++) await pageView(ports.verifier);
    const elapsed = Date.now() - started;
    const polls = relay.count(REVOCATIONS_PATH);
    const refreshes = relay.count(JWKS_PATH) + relay.count(CHECK_POLICY_PATH);
    // Everything that reached the signer was a feed poll or a key/policy refresh, never a /verify.
    expect(relay.total() - polls - refreshes).toBe(0);
    expect(relay.count("/verify")).toBe(0);
    // 93 requests: the polls follow the clock (one per 500 ms), not the requests.
    expect(polls).toBeLessThanOrEqual(Math.ceil(elapsed / POLL_MS) + 1);
    expect(refreshes).toBe(0); // keys and policy: every 5 minutes (or on an unknown kid)
  });
});
