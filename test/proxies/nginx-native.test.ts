/**
 * Debian's nginx 1.22 with njs 0.7.9 (libnginx-mod-http-js) checking the cookie itself:
 * the generator's --check native --out DIR, included as a user does (`include DIR/*.conf;`),
 * in front of the signer in workerd and on Node. The admin-only host's file sorts first, so
 * its block is the port's default server: an unknown Host must still get its rules.
 * asksSignerPerRequest is false: nginx never asks the signer, so it cannot see sign-outs.
 */
import type { SignerRuntime } from "../support/signer.js";
import { describeProxyContract, forwardAuthName, type ProxyUnderTest } from "./support/contract.js";
import { startNativeNginx } from "./support/nginx-native.js";
import { freePort } from "./support/processes.js";
import { ADMIN_HOST, OPEN_HOST, startWorld } from "./support/world.js";

async function setup(runtime: SignerRuntime): Promise<ProxyUnderTest> {
  const world = await startWorld(runtime);
  try {
    const port = await freePort();
    const nginx = await startNativeNginx(world, [ADMIN_HOST, OPEN_HOST], port);
    return {
      world,
      port: () => port,
      authority: (host) => `${host}:${port}`,
      asksSignerPerRequest: false,
      plantedCookieRule: "signer",
      expectedName: forwardAuthName,
      stop: async () => {
        await nginx.stop();
        await world.close();
      },
    };
  } catch (error) {
    await world.close();
    throw error;
  }
}

describeProxyContract("nginx native (njs), signer in workerd", () => setup("workerd"));
describeProxyContract("nginx native (njs), signer on Node", () => setup("node"));
