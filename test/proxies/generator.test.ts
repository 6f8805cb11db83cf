/**
 * The proxy-config generator on its own: the npm script, argument and settings checks (no
 * value can smuggle a directive into a config), and every proxy's own syntax check on what
 * it prints. The configs' behaviour is tested against the running proxies next door.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { generateProxyConfig } from "../../scripts/proxy-config/generate.js";
import { CADDY, HAPROXY, NGINX } from "./support/proxies.js";
import { requireBinary, tempDir } from "./support/processes.js";

const run = promisify(execFile);
const ENV = { HA_URL: "https://ha.example.com", PUBLIC_URL: "https://auth.example.com", COOKIE_DOMAIN: ".example.com" };
const BASE = ["--host", "grafana.example.com", "--upstream", "http://127.0.0.1:3000"];

function error(args: string[], env: Record<string, string> = ENV): string {
  const result = generateProxyConfig(args, env);
  if (result.ok) throw new Error(`expected a refusal for ${args.join(" ")}`);
  return result.error;
}

function config(args: string[], env: Record<string, string> = ENV): string {
  const result = generateProxyConfig(args, env);
  if (!result.ok) throw new Error(result.error);
  return result.config;
}

describe("npm run proxy-config", () => {
  it("prints the config on stdout and exits 0; a mistake prints the usage and exits 2", async () => {
    const env = { ...process.env, ...ENV, SIGNING_KEY: "" };
    const good = await run("npm", ["run", "-s", "proxy-config", "--", "caddy", ...BASE, "--signer", "https://auth.example.com"], { env });
    expect(good.stdout).toBe(config(["caddy", ...BASE, "--signer", "https://auth.example.com"]));
    const bad = await run("npm", ["run", "-s", "proxy-config", "--", "apache", ...BASE], { env }).catch((e: { code: number; stderr: string }) => e);
    expect("code" in bad && bad.code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain("Usage: npm run proxy-config");
  });
});

describe("generator input checks", () => {
  it("needs a proxy, --host and --upstream", () => {
    expect(error([])).toContain("Name the proxy first");
    expect(error(["nginx", "--upstream", "http://127.0.0.1:3000"])).toContain("--host is required");
    expect(error(["nginx", "--host", "grafana.example.com"])).toContain("--upstream is required");
    expect(error(["nginx", ...BASE, "--bogus"])).toContain('Unknown argument "--bogus"');
  });

  it.each([
    [["--host", "grafana.example.com;evil"], "--host"],
    [["--host", "grafana.example.com\n}"], "--host"],
    [["--host", "localhost"], "--host"],
    [["--upstream", "http://127.0.0.1:3000/;return 200"], "--upstream"],
    [["--upstream", "http://user:pw@127.0.0.1:3000"], "--upstream"],
    [["--upstream", "file:///etc/passwd"], "--upstream"],
    [["--signer", "https://auth.example.com/x y"], "--signer"],
    [["--listen", "0.0.0.0:80; evil"], "--listen"],
  ])("refuses %j", (args, flag) => {
    const argv = ["nginx", ...BASE];
    const i = argv.indexOf(args[0]!);
    if (i >= 0) argv.splice(i, 2, ...args);
    else argv.push(...args);
    expect(error(argv)).toContain(flag);
  });

  it("refuses settings that a config could not hold safely", () => {
    expect(error(["haproxy", ...BASE], { ...ENV, JWT_ISSUER: "home' assistant" })).toContain("JWT_ISSUER");
    expect(error(["haproxy", ...BASE], { ...ENV, JWT_AUDIENCE: "a,$(evil)" })).toContain("JWT_AUDIENCE");
    expect(error(["haproxy", ...BASE], { ...ENV, COOKIE_NAME: "jwt$token" })).toContain("COOKIE_NAME");
    expect(error(["haproxy", ...BASE, "--pem-path", "/etc/haproxy/my key.pem"])).toContain("--pem-path");
    const rules = JSON.stringify({ "grafana.example.com": { roles: ["admin' if TRUE"] } });
    expect(error(["haproxy", ...BASE], { ...ENV, ACCESS_RULES: rules })).toContain("ACCESS_RULES");
  });

  it("reads the signer's settings like the signer, without needing its key", () => {
    expect(generateProxyConfig(["caddy", ...BASE], { HA_URL: "https://ha.example.com" }).ok).toBe(true);
    expect(error(["caddy", ...BASE], { ...ENV, COOKIE_SAMESITE: "sometimes" })).toContain("COOKIE_SAMESITE");
    expect(config(["haproxy", ...BASE], { ...ENV, COOKIE_NAME: "sso", JWT_ISSUER: "me", JWT_AUDIENCE: "a,b" })).toMatch(
      /req\.cook\(sso\)[\s\S]*-m str me\n[\s\S]*jwt_payload_query\('\$\.aud\[0\]'\) -m str a b\n/,
    );
  });

  it("refuses options that do not apply to the proxy", () => {
    expect(error(["caddy", ...BASE, "--pem-path", "/k.pem"])).toContain("haproxy only");
    expect(error(["nginx", ...BASE, "--docker-labels"])).toContain("traefik only");
    expect(error(["caddy", ...BASE, "--public-url", "https://a.example.com"])).toContain("haproxy only");
    expect(error(["traefik", ...BASE, "--listen", "8080"])).toContain("--entrypoint");
  });

  it("warns when browsers would be sent to the signer's internal address", () => {
    const result = generateProxyConfig(["nginx", ...BASE], { HA_URL: "https://ha.example.com" });
    expect(result.ok && result.warnings.join()).toContain("PUBLIC_URL is not set");
  });

  it("takes --host in the signer's canonical form and finds its ACCESS_RULES rule by it", () => {
    const env = { ...ENV, ACCESS_RULES: JSON.stringify({ "grafana.example.com": { roles: ["admin"] }, "bücher.example.com": { roles: ["admin"] } }) };
    for (const host of ["GRAFANA.Example.com.", "grafana.example.com."]) {
      const haproxy = config(["haproxy", "--host", host, "--upstream", "http://127.0.0.1:3000"], env);
      expect(haproxy).toContain("ACCESS_RULES for this host");
      expect(haproxy).toContain("grafana.example.com needs the role admin");
      expect(haproxy).not.toMatch(/grafana\.example\.com\.(?!pem)|GRAFANA/);
    }
    expect(config(["haproxy", "--host", "bücher.example.com", "--upstream", "http://127.0.0.1:3000"], env)).toContain("xn--bcher-kva.example.com needs the role admin");
    expect(config(["caddy", "--host", "Grafana.Example.com.", "--upstream", "http://127.0.0.1:3000"])).toContain("grafana.example.com");
    expect(error(["caddy", "--host", "grafana.example.com:443", "--upstream", "http://127.0.0.1:3000"])).toContain("--host");
    expect(error(["caddy", "--host", "*.example.com", "--upstream", "http://127.0.0.1:3000"])).toContain("--host");
  });

  it("writes ACCESS_RULES into HAProxy configs (the only proxy that does not ask the signer)", () => {
    const env = { ...ENV, ACCESS_RULES: JSON.stringify({ "*.example.com": { users: ["abc123"] } }) };
    expect(config(["haproxy", ...BASE], env)).toContain("jwt_payload_query('$.sub') -m str abc123");
    expect(config(["haproxy", "--host", "grafana.example.net", "--upstream", "http://127.0.0.1:3000"], env)).not.toContain("ACCESS_RULES for");
  });
});

describe("each proxy's own syntax check accepts what the generator prints", () => {
  const listen = ["--listen", "127.0.0.1:18080"];

  it("caddy validate (HTTPS site and plain-HTTP site)", async () => {
    requireBinary(CADDY, "caddy");
    const dir = tempDir("caddy-validate");
    try {
      const file = join(dir.path, "Caddyfile");
      const sites = [config(["caddy", ...BASE, "--signer", "https://auth.example.com"]), config(["caddy", "--host", "wiki.example.com", "--upstream", "http://127.0.0.1:3001", ...listen])];
      writeFileSync(file, `{\n\tadmin off\n\tstorage file_system ${dir.path}\n}\n${sites.join("\n")}`);
      const env = { ...process.env, HOME: dir.path, XDG_DATA_HOME: dir.path, XDG_CONFIG_HOME: dir.path };
      await run(CADDY, ["validate", "--config", file, "--adapter", "caddyfile"], { env });
    } finally {
      dir.remove();
    }
  });

  // nginx resolves upstream names while it reads the config, hence a loopback signer here.
  it("nginx -t", async () => {
    requireBinary(NGINX, "nginx");
    const dir = tempDir("nginx-t");
    try {
      writeFileSync(join(dir.path, "servers.conf"), config(["nginx", ...BASE, ...listen, "--signer", "https://127.0.0.1:8443"]));
      writeFileSync(
        join(dir.path, "nginx.conf"),
        `pid ${dir.path}/nginx.pid;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir.path}/cb;\n  proxy_temp_path ${dir.path}/p;\n  fastcgi_temp_path ${dir.path}/f;\n  uwsgi_temp_path ${dir.path}/u;\n  scgi_temp_path ${dir.path}/s;\n  include ${dir.path}/servers.conf;\n}\n`,
      );
      await run(NGINX, ["-t", "-q", "-p", dir.path, "-c", join(dir.path, "nginx.conf"), "-e", "stderr"]);
    } finally {
      dir.remove();
    }
  });

  it("haproxy -c (two keys during a rotation, ACCESS_RULES with roles and users)", async () => {
    requireBinary(HAPROXY, "haproxy");
    const dir = tempDir("haproxy-c");
    try {
      const { generateKeyPairSync } = await import("node:crypto");
      const pems = ["a.pem", "b.pem"].map((name) => {
        const path = join(dir.path, name);
        writeFileSync(path, generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }));
        return path;
      });
      const env = { ...ENV, ACCESS_RULES: JSON.stringify({ "grafana.example.com": { roles: ["admin", "owner"], users: ["u1"] } }) };
      const file = join(dir.path, "haproxy.cfg");
      writeFileSync(file, config(["haproxy", ...BASE, ...listen, "--pem-path", pems[0]!, "--pem-path", pems[1]!], env));
      await run(HAPROXY, ["-c", "-q", "-f", file]);
    } finally {
      dir.remove();
    }
  });
});
