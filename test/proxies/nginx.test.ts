/**
 * Debian's nginx 1.22 (open source) with the generated auth_request config (--check
 * signer: a subrequest to the signer's /verify per request), signer in workerd. The admin-only host's server block comes first, so it is the default server
 * for the port: a request with an unknown Host lands there and must still get its rules.
 */
import { describeProxyContract, forwardAuthProxyUnderTest } from "./support/contract.js";
import { generated } from "./support/generated.js";
import { startNginx } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST } from "./support/world.js";

describeProxyContract("nginx auth_request (--check signer), signer in workerd", () =>
  forwardAuthProxyUnderTest("workerd", (world, port) =>
    startNginx(
      [
        // A site setting some apps need: header names with underscores pass. The config must
        // still keep a client's Remote_User from the upstream.
        "underscores_in_headers on;",
        ...[ADMIN_HOST, OPEN_HOST].map((host) =>
          generated(
            ["nginx", "--host", host, "--upstream", world.upstream.url, "--check", "signer", "--signer", world.signer.url, "--listen", `127.0.0.1:${port}`],
            world.env,
          ),
        ),
      ],
      [port],
    ),
  ),
);
