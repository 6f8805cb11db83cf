/**
 * Debian's Caddy 2.6 with the generated forward_auth config, in front of the signer in
 * workerd and, the same config, in front of the signer on Node.
 */
import type { SignerRuntime } from "../support/signer.js";
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { caddySite } from "./support/generated.js";
import { startCaddy } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST } from "./support/world.js";

const setup = (runtime: SignerRuntime) =>
  forwardAuthProxyUnderTest(runtime, (world, port) =>
    startCaddy(
      [OPEN_HOST, ADMIN_HOST].map((host) => caddySite(world.env, host, world.upstream.url, world.signer.url, port)),
      [port],
    ),
  );

describeProxyContract("Caddy forward_auth, signer in workerd", () => setup("workerd"));
describeProxyContract("Caddy forward_auth, signer on Node", () => setup("node"));
