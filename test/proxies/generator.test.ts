/**
 * The proxy-config generator on its own: the npm script, argument and settings checks (no
 * value can smuggle a directive into a config), and every proxy's own syntax check on what
 * it prints. The configs' behaviour is tested against the running proxies next door.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { exportJWK, generateKeyPair, calculateJwkThumbprint } from "jose";
import { generateProxyConfig } from "../../scripts/proxy-config/generate.js";
import { settingsVersion } from "../../scripts/proxy-config/nginx-native.js";
import { buildProxyConfig, writeOutDir } from "../../scripts/proxy-config/out-dir.js";
import { CADDY, HAPROXY, NGINX, NGINX_JS_MODULE, requireNginxJsModule } from "./support/proxies.js";
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
    [["--check-listen", "0.0.0.0:8789"], "--check-listen"],
    [["--check-listen", "8789"], "--check-listen"],
    [["--check-listen", "10.0.0.1:8789"], "--check-listen"],
    [["--cache-dir", "var/cache"], "--cache-dir"],
    [["--cache-dir", "/var/cache/x;evil"], "--cache-dir"],
    // Valid URLs whose host names the URL parser lets through with characters configs give a meaning to.
    [["--upstream", "http://127.0.0.1;internal"], "--upstream"],
    [["--upstream", "http://x{$HOME}y:3000"], "--upstream"],
    [["--signer", "http://127.0.0.1;internal"], "--signer"],
    [["--verifier", "http://a'b:8788", "--check", "local"], "--verifier"],
    [["--public-url", 'https://a"${HOME}"b'], "--public-url"],
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
    expect(error(["haproxy", ...BASE], { ...ENV, PUBLIC_URL: "https://auth;example.com" })).toContain("PUBLIC_URL");
    const rules = JSON.stringify({ "grafana.example.com": { roles: ["admin' if TRUE"] } });
    expect(error(["haproxy", ...BASE], { ...ENV, ACCESS_RULES: rules })).toContain("ACCESS_RULES");
  });

  it("takes upstreams and the signer by host name (underscores too, as Docker names them), IPv4 or IPv6 address", () => {
    for (const upstream of ["http://grafana_web_1:3000", "https://[::1]:8443", "http://10.0.0.5"]) {
      expect(config(["nginx", "--host", "grafana.example.com", "--upstream", upstream, "--check", "signer", "--signer", "http://signer_1:8787"])).toContain(
        `proxy_pass ${new URL(upstream).origin};`,
      );
    }
  });

  it("reads the signer's settings like the signer, without needing its key", () => {
    expect(generateProxyConfig(["caddy", ...BASE], { HA_URL: "https://ha.example.com" }).ok).toBe(true);
    expect(error(["caddy", ...BASE], { ...ENV, COOKIE_SAMESITE: "sometimes" })).toContain("COOKIE_SAMESITE");
    expect(config(["haproxy", ...BASE], { ...ENV, COOKIE_NAME: "sso", JWT_ISSUER: "me", JWT_AUDIENCE: "a,b" })).toMatch(
      /req\.cook\(sso\)[\s\S]*json_query\('\$\.aud\[0\]'\)[\s\S]*var\(txn\.iss\) -m str me\n[\s\S]*var\(txn\.aud0\) -m str a b\n/,
    );
  });

  it("refuses options that do not apply to the proxy", () => {
    expect(error(["caddy", ...BASE, "--pem-path", "/k.pem"])).toContain("haproxy only");
    expect(error(["nginx", ...BASE, "--docker-labels"])).toContain("traefik only");
    expect(error(["caddy", ...BASE, "--public-url", "https://a.example.com"])).toContain("--check native only");
    expect(error(["traefik", ...BASE, "--listen", "8080"])).toContain("--entrypoint");
    expect(error(["nginx", ...BASE, "--check", "signer", "--check-listen", "127.0.0.1:8789"])).toContain("nginx --check native only");
    expect(error(["haproxy", ...BASE, "--cache-dir", "/var/cache/x"])).toContain("nginx --check native or local only");
    expect(error(["nginx", ...BASE, "--check", "signer", "--cache-dir", "/var/cache/x"])).toContain("nginx --check native or local only");
    expect(error(["caddy", ...BASE, "--cache-dir", "/var/cache/x"])).toContain("nginx --check native or local only");
  });

  it("warns when browsers would be sent to the signer's internal address", () => {
    const result = generateProxyConfig(["nginx", ...BASE, "--check", "signer"], { HA_URL: "https://ha.example.com" });
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
    expect(config(["haproxy", ...BASE], env)).toContain("acl jwt_user_allowed var(txn.sub) -m str abc123");
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
  it("nginx -t (--check signer, and --check local with its approval cache)", async () => {
    requireBinary(NGINX, "nginx");
    const dir = tempDir("nginx-t");
    try {
      writeFileSync(
        join(dir.path, "servers.conf"),
        [
          config(["nginx", ...BASE, ...listen, "--check", "signer", "--signer", "https://127.0.0.1:8443"]),
          // A second host in the same http { }: its own zone, map and cache directory.
          ...["grafana.example.net", "nas.example.net"].map((host) =>
            config(["nginx", "--host", host, "--upstream", "http://127.0.0.1:3000", ...listen, "--check", "local", "--cache-dir", join(dir.path, `cache-${host}`)]),
          ),
        ].join("\n"),
      );
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

/** A signer's JWKS with two keys (current and previous), served by a fake fetch. */
async function fakeSigner(): Promise<{ fetch: typeof fetch; kids: string[]; requested: string[] }> {
  const jwks = await Promise.all(
    [0, 1].map(async () => {
      const jwk = await exportJWK((await generateKeyPair("ES256", { extractable: true })).publicKey);
      return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: "ES256", use: "sig" };
    }),
  );
  const requested: string[] = [];
  const fake = (async (url: string | URL | Request) => {
    requested.push(String(url));
    return new Response(JSON.stringify({ keys: jwks }), { headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  return { fetch: fake, kids: jwks.map((k) => k.kid), requested };
}

describe("--check: where the cookie is checked", () => {
  it("defaults to the form without a hop per request: nginx and haproxy native, caddy and traefik the local verifier", () => {
    expect(config(["nginx", ...BASE])).toContain("proxy_pass http://jwt_cookie_check/check;");
    expect(config(["nginx", ...BASE])).not.toContain("proxy_pass http://jwt_cookie_signer");
    expect(config(["haproxy", ...BASE])).toContain("jwt_verify('ES256',");
    expect(config(["caddy", ...BASE])).toContain("forward_auth http://127.0.0.1:8788 {");
    expect(config(["traefik", ...BASE])).toContain("address: http://127.0.0.1:8788/verify");
  });

  it("local and signer are forward auth to the verifier or the signer", () => {
    expect(config(["nginx", ...BASE, "--check", "local"])).toContain("upstream jwt_cookie_verifier_grafana_example_com {\n    server 127.0.0.1:8788;");
    expect(config(["nginx", ...BASE, "--check", "local", "--verifier", "http://10.0.0.2:9000"])).toContain("server 10.0.0.2:9000;");
    // nginx --check local keeps the verifier's approvals for as long as its X-Accel-Expires says, in a directory per host.
    const local = config(["nginx", ...BASE, "--check", "local"]);
    expect(local).toContain("proxy_cache_path /var/lib/nginx/jwt-cookie-grafana.example.com levels=1:2 keys_zone=jwt_cookie_approvals_grafana_example_com:");
    expect(local).toContain("proxy_cache jwt_cookie_approvals_grafana_example_com;");
    expect(local).toContain("proxy_cache_key 'grafana.example.com\\n$http_authorization\\n$http_cookie\\ngrafana.example.com';");
    expect(local).toContain("proxy_no_cache $jwt_cookie_not_approval_grafana_example_com $upstream_http_set_cookie $upstream_http_vary;");
    const moved = config(["nginx", ...BASE, "--check", "local", "--cache-dir", "/var/cache/jwt/"]);
    expect(moved).toContain("proxy_cache_path /var/cache/jwt levels=1:2");
    expect(moved).toContain("--check local --verifier http://127.0.0.1:8788 --cache-dir /var/cache/jwt\n");
    // The hop to the signer caches nothing (its deny-list answers at once), nor lets the site's own proxy_cache keep its answers.
    const signer = config(["nginx", ...BASE, "--check", "signer", "--signer", "http://127.0.0.1:8787"]);
    expect(signer).not.toMatch(/proxy_cache(_path| jwt_cookie)/);
    expect(signer.match(/proxy_cache off;/g)).toHaveLength(2);
    expect(local.match(/proxy_cache off;/g)).toHaveLength(1); // @jwt_cookie_denied
    expect(config(["nginx", ...BASE, "--check", "signer", "--signer", "http://127.0.0.1:8787"])).toContain("upstream jwt_cookie_signer_grafana_example_com {\n    server 127.0.0.1:8787;");
    expect(config(["caddy", ...BASE, "--check", "signer", "--signer", "https://auth.example.com"])).toContain("forward_auth https://auth.example.com {");
    expect(config(["traefik", ...BASE, "--check", "local", "--verifier", "http://verifier:8788"])).toContain("address: http://verifier:8788/verify");
  });

  it("refuses modes a proxy does not offer, and options of other modes", () => {
    expect(error(["caddy", ...BASE, "--check", "native"])).toContain("--check native does not apply to caddy");
    expect(error(["traefik", ...BASE, "--check", "native"])).toContain("--check native does not apply to traefik");
    expect(error(["haproxy", ...BASE, "--check", "local"])).toContain("--check local does not apply to haproxy");
    expect(error(["nginx", ...BASE, "--check", "remote"])).toContain('--check "remote" is not one of native, local, signer');
    expect(error(["nginx", ...BASE, "--verifier", "http://127.0.0.1:8788"])).toContain("--verifier applies to --check local only");
    expect(error(["nginx", ...BASE, "--check", "local", "--verifier", "http://a b"])).toContain("--verifier");
    expect(error(["nginx", ...BASE, "--out", "relative/dir"])).toContain("--out");
    expect(error(["nginx", ...BASE, "--out", "/etc/nginx/x;y"])).toContain("--out");
    expect(error(["haproxy", ...BASE, "--out", "/etc/haproxy/jwt", "--pem-path", "/k.pem"])).toContain("--pem-path and --out");
  });

  it("nginx native writes the host, its ACCESS_RULES rule and its return origin into the server block", () => {
    const env = { ...ENV, ACCESS_RULES: JSON.stringify({ "*.example.com": { roles: ["admin"], users: ["u1"] } }) };
    const text = config(["nginx", ...BASE, "--listen", "8080", "--out", "/srv/jwt"], env, );
    expect(text).toContain("js_import jwt_cookie from /srv/jwt/jwt_cookie.js;");
    expect(text).toContain("js_preload_object jwt_cookie_settings from /srv/jwt/jwt-cookie.json;");
    // The check server gets them from the internal location, never from the client.
    expect(text).toContain("proxy_pass_request_headers off;");
    expect(text).toContain(`proxy_set_header X-Jwt-Cookie-Rule '{"users":["u1"],"roles":["admin"]}';`);
    expect(text).toContain('proxy_set_header X-Jwt-Cookie-Host "grafana.example.com:8080";');
    expect(text).toContain('proxy_set_header X-Jwt-Cookie-Return-Origin "http://grafana.example.com:8080";');
    // An approval is cached under everything it depends on.
    expect(text).toContain(
      `proxy_cache_key '$jwt_cookie_settings_version\\ngrafana.example.com:8080\\n{"users":["u1"],"roles":["admin"]}\\n$http_authorization\\n$http_cookie\\ngrafana.example.com:8080\\n{"users":["u1"],"roles":["admin"]}';`,
    );
    // Keys of any Cookie size fit; no cache lock (nginx 1.22 polls it every 500 ms).
    expect(text).toContain("proxy_buffer_size 16k;");
    expect(text).toContain("proxy_cache_lock off;");
    // A host outside COOKIE_DOMAIN and the allow-list: browsers sign in without an rd.
    const other = config(["nginx", "--host", "grafana.example.net", "--upstream", "http://127.0.0.1:3000", "--out", "/srv/jwt"], env);
    expect(other).toContain('proxy_set_header X-Jwt-Cookie-Return-Origin "";');
    expect(other).toContain("proxy_set_header X-Jwt-Cookie-Rule '';");
  });
});

describe("--out DIR: the config and every file it references", () => {
  it("nginx native: <host>.conf, the njs script and jwt-cookie.json with every key of the signer's JWKS", async () => {
    const signer = await fakeSigner();
    const dir = tempDir("out-nginx");
    try {
      const result = await buildProxyConfig(["nginx", ...BASE, "--signer", "http://127.0.0.1:8787", "--out", dir.path], ENV, signer.fetch);
      if (!result.ok) throw new Error(result.error);
      writeOutDir(result);
      expect(signer.requested).toEqual(["http://127.0.0.1:8787/.well-known/jwks.json"]);
      expect(readFileSync(join(dir.path, "grafana.example.com.conf"), "utf8")).toBe(result.config);
      expect(readFileSync(join(dir.path, "jwt_cookie.js"), "utf8")).toBe(readFileSync("scripts/proxy-config/njs/jwt_cookie.js", "utf8"));
      const settings = JSON.parse(readFileSync(join(dir.path, "jwt-cookie.json"), "utf8")) as Record<string, unknown> & { keys: Array<{ kid: string; pem: string }> };
      expect(settings).toMatchObject({ cookieName: "jwt_access_token", issuer: "homeassistant", audience: ["homeassistant"], leeway: 10, signInOrigin: "https://auth.example.com" });
      expect(settings.keys.map((k) => k.kid)).toEqual(signer.kids);
      for (const key of settings.keys) expect(key.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
      expect(result.config).toContain(`# Generated by: npm run proxy-config -- nginx --host grafana.example.com --upstream http://127.0.0.1:3000 --check native --signer http://127.0.0.1:8787 --public-url https://auth.example.com --out ${dir.path}`);

      // The check server and the approval cache, versioned by the script and settings nginx loads with them.
      const checkServer = readFileSync(join(dir.path, "jwt-cookie-check.conf"), "utf8");
      const version = settingsVersion(readFileSync(join(dir.path, "jwt_cookie.js"), "utf8"), readFileSync(join(dir.path, "jwt-cookie.json"), "utf8"));
      expect(checkServer).toContain(`map "" $jwt_cookie_settings_version {\n    default "${version}";\n}`);
      expect(checkServer).toContain("proxy_cache_path /var/lib/nginx/jwt-cookie levels=1:2 keys_zone=jwt_cookie_approvals:2m");
      expect(checkServer).toContain("listen 127.0.0.1:8789;");
      expect(checkServer).toContain(`js_preload_object jwt_cookie_settings from ${dir.path}/jwt-cookie.json;`);
      expect(settings).toMatchObject({ approvalCacheSeconds: 60 });
      // Other keys (a rotation): another version, so no cached approval is found again.
      const rotated = await buildProxyConfig(["nginx", ...BASE, "--signer", "http://127.0.0.1:8787", "--out", dir.path], ENV, (await fakeSigner()).fetch);
      if (!rotated.ok) throw new Error(rotated.error);
      const rotatedServer = rotated.files.find((f) => f.path === "jwt-cookie-check.conf")!.content;
      expect(rotatedServer).toMatch(/default "[0-9a-f]{32}";/);
      expect(rotatedServer).not.toContain(version);
      // Where the check server listens and the cache lives are options, repeated in the header.
      const moved = await buildProxyConfig(
        ["nginx", ...BASE, "--signer", "http://127.0.0.1:8787", "--out", dir.path, "--check-listen", "127.0.0.2:9000", "--cache-dir", "/var/cache/nginx/jwt/"],
        ENV,
        signer.fetch,
      );
      if (!moved.ok) throw new Error(moved.error);
      const movedServer = moved.files.find((f) => f.path === "jwt-cookie-check.conf")!.content;
      expect(movedServer).toContain("listen 127.0.0.2:9000;");
      expect(movedServer).toContain("server 127.0.0.2:9000;");
      expect(movedServer).toContain("proxy_cache_path /var/cache/nginx/jwt levels=1:2");
      expect(moved.config).toContain("--check-listen 127.0.0.2:9000 --cache-dir /var/cache/nginx/jwt");
    } finally {
      dir.remove();
    }
  });

  it("haproxy: one PEM per key in keys/, named in the config; keys the signer dropped are removed", async () => {
    const signer = await fakeSigner();
    const dir = tempDir("out-haproxy");
    try {
      mkdirSync(join(dir.path, "keys"));
      writeFileSync(join(dir.path, "keys", "retired.pem"), "old");
      const result = await buildProxyConfig(["haproxy", ...BASE, "--listen", "127.0.0.1:18080", "--out", dir.path], ENV, signer.fetch);
      if (!result.ok) throw new Error(result.error);
      writeOutDir(result);
      for (const kid of signer.kids) {
        expect(existsSync(join(dir.path, "keys", `${kid}.pem`))).toBe(true);
        expect(result.config).toContain(`jwt_verify('ES256','${dir.path}/keys/${kid}.pem')`);
      }
      expect(existsSync(join(dir.path, "keys", "retired.pem"))).toBe(false);
      requireBinary(HAPROXY, "haproxy");
      await run(HAPROXY, ["-c", "-q", "-f", join(dir.path, "grafana.example.com.cfg")]);
    } finally {
      dir.remove();
    }
  });

  it("fails with a clear message when the signer cannot be reached", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const result = await buildProxyConfig(["nginx", ...BASE, "--signer", `http://127.0.0.1:${port}`, "--out", "/tmp/never-written"], ENV);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(`Cannot fetch the signer's public keys from http://127.0.0.1:${port}/.well-known/jwks.json`);
    expect(existsSync("/tmp/never-written")).toBe(false);
  });

  it("the CLI writes the files and prints nothing on stdout", async () => {
    const dir = tempDir("out-cli");
    try {
      const env = { ...process.env, ...ENV, SIGNING_KEY: "" };
      const out = await run("npm", ["run", "-s", "proxy-config", "--", "caddy", ...BASE, "--out", dir.path], { env });
      expect(out.stdout).toBe("");
      expect(out.stderr).toContain(`wrote ${dir.path}/grafana.example.com.caddy`);
      expect(readFileSync(join(dir.path, "grafana.example.com.caddy"), "utf8")).toBe(config(["caddy", ...BASE, "--out", dir.path]));
    } finally {
      dir.remove();
    }
  });
});

describe("HAProxy does little per request", () => {
  const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;
  it.each([
    ["no ACCESS_RULES", ENV],
    ["roles and users in ACCESS_RULES", { ...ENV, ACCESS_RULES: JSON.stringify({ "grafana.example.com": { roles: ["admin", "owner"], users: ["u1"] } }) }],
  ])("%s: the token decoded twice (header, payload) and each claim read once, none inside an acl, one signature check per key", (_label, env) => {
    const text = config(["haproxy", ...BASE, "--pem-path", "/a.pem", "--pem-path", "/b.pem"], env);
    // An acl on a fetch is evaluated again at every use; set-var rules run once each, in order.
    expect(text.split("\n").filter((line) => /^\s*acl .*(jwt_(payload|header)_query|json_query|ub64dec|jwt_verify)/.test(line))).toEqual([]);
    // Was 17 jwt_*_query calls, each decoding the token again; then 12; now one header query and
    // one payload decode, and the 11 claim reads (exp nbf iat iss aud sub name, roles 0-3) from it.
    expect(count(text, /jwt_header_query\(/g)).toBe(1);
    expect(count(text, /jwt_payload_query\(/g)).toBe(0);
    expect(count(text, /ub64dec/g)).toBe(1);
    expect(count(text, /var\(txn\.payload\),json_query\(/g)).toBe(11);
    expect(text.match(/jwt_verify\(/g)).toHaveLength(2);
    // The signature is checked only once the cheap checks passed and only for a token not
    // remembered as verified, the second key only if the first failed.
    expect(text).toMatch(
      /jwt_verify\('ES256','\/a\.pem'\) if jwt_claims_ok !jwt_remembered\n.*jwt_verify\('ES256','\/b\.pem'\) if jwt_claims_ok !jwt_remembered !jwt_signed\n/,
    );
    // Roles are read only while there are more.
    expect(text).toContain("var(txn.payload),json_query('$.roles[1]') if { var(txn.role0) -m found }");
  });

  it("remembers signatures in a bounded table, keyed by the whole token's SHA-256, written only after jwt_verify answered 1", () => {
    const text = config(["haproxy", ...BASE, "--pem-path", "/a.pem", "--pem-path", "/b.pem"]);
    const lines = text.split("\n").map((line) => line.trim());
    expect(lines.filter((line) => line.startsWith("stick-table"))).toEqual(["stick-table type string len 64 size 10k expire 10m store gpt0"]);
    expect(lines).toContain("http-request set-var(txn.jwt_hash) var(txn.jwt),sha2(256),hex if jwt_claims_ok");
    expect(lines).toContain("acl jwt_signed var(txn.jwt_sig) -m int 1");
    // The only rules that write to the table, and what lets a remembered token in: the claims, checked first.
    expect(lines.filter((line) => /track-sc|sc-set|sc-inc|table_|jwt_remembered$/.test(line))).toEqual([
      "http-request set-var(txn.jwt_known) var(txn.jwt_hash),table_gpt0(jwt_cookie_grafana_example_com) if jwt_claims_ok",
      "http-request set-var(txn.jwt_sig) var(txn.jwt),jwt_verify('ES256','/a.pem') if jwt_claims_ok !jwt_remembered",
      "http-request track-sc2 var(txn.jwt_hash) table jwt_cookie_grafana_example_com if jwt_claims_ok jwt_signed",
      "http-request sc-set-gpt0(2) 1 if jwt_claims_ok jwt_signed",
      "http-request set-var(txn.jwt_ok) bool(1) if jwt_claims_ok jwt_remembered",
    ]);
    expect(text).toContain("reload after a key rotation is what stops tokens of a removed key");
  });
});

describe("nginx native passes nginx -t with the njs module", () => {
  it("include DIR/*.conf of two hosts sharing one --out directory", async () => {
    requireBinary(NGINX, "nginx");
    requireNginxJsModule();
    const signer = await fakeSigner();
    const dir = tempDir("nginx-native-t");
    try {
      const out = join(dir.path, "jwt");
      for (const host of ["grafana.example.com", "wiki.example.com"]) {
        const args = ["nginx", "--host", host, "--upstream", "http://127.0.0.1:3000", "--listen", "127.0.0.1:18080", "--out", out, "--cache-dir", join(dir.path, "cache")];
        const result = await buildProxyConfig(args, ENV, signer.fetch);
        if (!result.ok) throw new Error(result.error);
        writeOutDir(result);
      }
      writeFileSync(
        join(dir.path, "nginx.conf"),
        `load_module ${NGINX_JS_MODULE};\npid ${dir.path}/nginx.pid;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir.path}/cb;\n  proxy_temp_path ${dir.path}/p;\n  fastcgi_temp_path ${dir.path}/f;\n  uwsgi_temp_path ${dir.path}/u;\n  scgi_temp_path ${dir.path}/s;\n  include ${out}/*.conf;\n}\n`,
      );
      await run(NGINX, ["-t", "-q", "-p", dir.path, "-c", join(dir.path, "nginx.conf"), "-e", "stderr"]);
    } finally {
      dir.remove();
    }
  });
});
