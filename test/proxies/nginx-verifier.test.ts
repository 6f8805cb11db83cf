/**
 * nginx's auth_request to the local verifier (--check local, nginx without njs), the
 * verifier fed by the signer in workerd (deny-list from KV) and on Node: the whole proxy
 * contract, sign-out included (refused once the verifier's 200 ms poll has seen it).
 */
import { RUNTIMES } from "../support/signer.js";
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { generated } from "./support/generated.js";
import { startNginx } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST } from "./support/world.js";

for (const runtime of RUNTIMES) {
  describeProxyContract(`nginx auth_request → local verifier, signer in ${runtime}`, () =>
    forwardAuthProxyUnderTest(
      runtime,
      (world, port, verifierUrl) =>
        startNginx(
          [ADMIN_HOST, OPEN_HOST].map((host) =>
            generated(["nginx", "--host", host, "--upstream", world.upstream.url, "--check", "local", "--verifier", verifierUrl, "--listen", `127.0.0.1:${port}`], world.env),
          ),
          [port],
        ),
      { localVerifier: { pollMs: 200 } },
    ),
  );
}
