/**
 * Debian's HAProxy 2.6 with the generated config: it verifies the JWT itself with
 * jwt_verify and the signer's /public-key.pem, so the signer (workerd) only issues cookies.
 * One process, one generated file per host (-f each), one port per host.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeProxyContract, forwardAuthName } from "./support/contract.js";
import { generated } from "./support/generated.js";
import { freePort, tempDir } from "./support/processes.js";
import { startHaproxy } from "./support/proxies.js";
import { ADMIN_HOST, OPEN_HOST, startWorld } from "./support/world.js";

/**
 * Remote-Name as the signer writes it, except for a name with a lone UTF-16 surrogate, which
 * HAProxy's JSON reader refuses: then it is empty (docs/haproxy.md).
 */
const haproxyName = (name: string): string => (/\p{Surrogate}/u.test(name) ? "" : forwardAuthName(name));

describeProxyContract("HAProxy jwt_verify, cookies from the signer in workerd", async () => {
  const world = await startWorld("workerd");
  const keys = tempDir("haproxy-key");
  try {
    const pem = join(keys.path, "jwt-cookie.pem");
    writeFileSync(pem, await (await fetch(`${world.signer.url}/public-key.pem`)).text());
    const ports = new Map([
      [OPEN_HOST, await freePort()],
      [ADMIN_HOST, await freePort()],
    ]);
    const configs = [...ports].map(([host, port]) => {
      return generated(
        ["haproxy", "--host", host, "--upstream", world.upstream.url, "--listen", `127.0.0.1:${port}`, "--pem-path", pem],
        world.env,
      );
    });
    const haproxy = await startHaproxy(configs, [...ports.values()]);
    return {
      world,
      port: (host) => ports.get(host)!,
      authority: (host) => `${host}:${ports.get(host)}`,
      asksSignerPerRequest: false,
      plantedCookieRule: "strict",
      expectedName: haproxyName,
      stop: async () => {
        await haproxy.stop();
        await world.close();
        keys.remove();
      },
    };
  } catch (error) {
    await world.close();
    keys.remove();
    throw error;
  }
});
