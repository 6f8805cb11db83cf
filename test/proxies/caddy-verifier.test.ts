/**
 * Caddy's forward_auth to the local verifier (--check local), the verifier fed by the
 * signer in workerd (deny-list from KV) and on Node: the whole proxy contract, sign-out
 * included (refused once the verifier's 200 ms poll has seen it).
 */
import { RUNTIMES } from "../support/signer.js";
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { caddyLocalSite } from "./support/generated.js";
import { startCaddy } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST } from "./support/world.js";

for (const runtime of RUNTIMES) {
  describeProxyContract(`Caddy forward_auth → local verifier, signer in ${runtime}`, () =>
    forwardAuthProxyUnderTest(
      runtime,
      (world, port, verifierUrl) => startCaddy([OPEN_HOST, ADMIN_HOST].map((host) => caddyLocalSite(world.env, host, world.upstream.url, verifierUrl, port)), [port]),
      { localVerifier: { pollMs: 200 } },
    ),
  );
}
