/**
 * The Worker as the gate (GATED_HOSTS), in workerd: the same proxy contract as Caddy, nginx,
 * Traefik and HAProxy, every forged-token row included. One Worker on one port is signer
 * and gate; the Host header picks the role, as the routed hostname does on Cloudflare.
 */
import { describeProxyContract, forwardAuthName } from "./support/contract.js";
import { startGateWorld } from "./support/world.js";

describeProxyContract("the Worker as the gate, in workerd", async () => {
  const world = await startGateWorld();
  const port = Number(new URL(world.signer.url).port);
  return {
    world,
    port: () => port,
    authority: (host) => `${host}:${port}`,
    // The gate reads the deny-list (KV) itself on every request, like /verify does.
    asksSignerPerRequest: true,
    plantedCookieRule: "signer",
    expectedName: forwardAuthName,
    stop: () => world.close(),
  };
});
