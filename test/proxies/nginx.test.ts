/**
 * Debian's nginx 1.22 (open source) with the generated auth_request config, signer in
 * workerd. The admin-only host's server block comes first, so it is the default server
 * for the port: a request with an unknown Host lands there and must still get its rules.
 */
import { describeProxyContract, forwardAuthName } from "./support/contract.js";
import { generated } from "./support/generated.js";
import { freePort } from "./support/processes.js";
import { startNginx } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST, startWorld } from "./support/world.js";

describeProxyContract("nginx auth_request, signer in workerd", async () => {
  const world = await startWorld("workerd");
  try {
    const port = await freePort();
    const servers = [ADMIN_HOST, OPEN_HOST].map((host) => {
      return generated(
        ["nginx", "--host", host, "--upstream", world.upstream.url, "--signer", world.signer.url, "--listen", `127.0.0.1:${port}`],
        world.env,
      );
    });
    const nginx = await startNginx(servers, [port]);
    return {
      world,
      port: () => port,
      authority: (host) => `${host}:${port}`,
      asksSignerPerRequest: true,
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
});
