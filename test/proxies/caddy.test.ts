/**
 * Debian's Caddy 2.6 with the generated forward_auth config, in front of the signer in
 * workerd and, the same config, in front of the signer on Node.
 */
import type { SignerRuntime } from "../support/signer.js";
import { describeProxyContract, forwardAuthName, type ProxyUnderTest } from "./support/contract.js";
import { caddySite } from "./support/generated.js";
import { freePort } from "./support/processes.js";
import { startCaddy } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST, startWorld } from "./support/world.js";

async function setup(runtime: SignerRuntime): Promise<ProxyUnderTest> {
  const world = await startWorld(runtime);
  try {
    const port = await freePort();
    const sites = [OPEN_HOST, ADMIN_HOST].map((host) => caddySite(world.env, host, world.upstream.url, world.signer.url, port));
    const caddy = await startCaddy(sites, [port]);
    return {
      world,
      port: () => port,
      authority: (host) => `${host}:${port}`,
      asksSignerPerRequest: true,
      expectedName: forwardAuthName,
      stop: async () => {
        await caddy.stop();
        await world.close();
      },
    };
  } catch (error) {
    await world.close();
    throw error;
  }
}

describeProxyContract("Caddy forward_auth, signer in workerd", () => setup("workerd"));
describeProxyContract("Caddy forward_auth, signer on Node", () => setup("node"));
