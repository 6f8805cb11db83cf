/**
 * Traefik has no Debian package, so it is not run here (docs/traefik.md says so). Its
 * generated file-provider YAML and Docker labels are parsed and checked against Traefik's
 * documented schema (support/traefik-schema.ts), and for what the forwardAuth protocol
 * needs: the signer's /verify, the three identity headers, client X-Forwarded-* not
 * trusted, client Remote-* headers removed before the check.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generated } from "./support/generated.js";
import { DYNAMIC_CONFIG, labelsToDynamicConfig, validate } from "./support/traefik-schema.js";

const ENV = { HA_URL: "https://ha.example.com", PUBLIC_URL: "https://auth.example.com", COOKIE_DOMAIN: ".example.com" };
const ARGS = ["traefik", "--host", "grafana.example.com", "--upstream", "http://grafana:3000", "--check", "signer", "--signer", "http://jwt-cookie:8787"];

interface Dynamic {
  http: {
    routers: Record<string, { rule: string; middlewares: string[]; service: string; entryPoints?: string[] }>;
    middlewares: Record<string, { forwardAuth?: Record<string, unknown>; headers?: { customRequestHeaders: Record<string, string> } }>;
    services: Record<string, { loadBalancer: { servers?: Array<{ url: string }>; server?: { port: number } } }>;
  };
}

/** What both forms must say, whatever their syntax. */
function checkSemantics(config: Dynamic, check = "http://jwt-cookie:8787"): void {
  const routers = Object.values(config.http.routers);
  expect(routers).toHaveLength(1);
  const router = routers[0]!;
  expect(router.rule).toBe("Host(`grafana.example.com`)");
  expect(config.http.services[router.service], "the router's service exists").toBeDefined();
  for (const name of router.middlewares) expect(config.http.middlewares[name], `middleware ${name} exists`).toBeDefined();

  const [strip, auth] = router.middlewares.map((name) => config.http.middlewares[name]!);
  expect(auth?.forwardAuth, "the last middleware is the forward auth").toBeDefined();
  const forwardAuth = auth!.forwardAuth!;
  expect(forwardAuth.address).toBe(`${check}/verify`);
  expect(forwardAuth.trustForwardHeader).toBe(false);
  expect(forwardAuth.authResponseHeaders).toEqual(["Remote-User", "Remote-Name", "Remote-Groups"]);
  // Runs before the check: a client's Remote_User (read as REMOTE_USER by CGI-style apps) never arrives.
  const removed = strip?.headers?.customRequestHeaders ?? {};
  for (const name of ["Remote-User", "Remote-Name", "Remote-Groups", "Remote_User", "Remote_Name", "Remote_Groups"]) expect(removed[name]).toBe("");
}

describe("Traefik forwardAuth config (checked against the documented schema; Traefik is not run here)", () => {
  it("file-provider YAML: only documented fields, right types, required ones present", () => {
    const text = generated(ARGS, ENV);
    const config = parse(text) as Dynamic;
    expect(validate(config, DYNAMIC_CONFIG)).toEqual([]);
    checkSemantics(config);
    const service = Object.values(config.http.services)[0]!;
    expect(service.loadBalancer.servers).toEqual([{ url: "http://grafana:3000" }]);
    expect(Object.values(config.http.routers)[0]!.entryPoints).toEqual(["websecure"]);
  });

  it("Docker labels: every label is a documented path and they describe the same config", () => {
    const text = generated([...ARGS, "--docker-labels", "--entrypoint", "https"], ENV);
    const compose = parse(text) as { services: Record<string, { labels: string[] }> };
    const labels = Object.values(compose.services)[0]!.labels;
    expect(labels).toContain("traefik.enable=true");
    const { config, problems } = labelsToDynamicConfig(labels);
    expect(problems).toEqual([]);
    checkSemantics(config as unknown as Dynamic);
    const service = Object.values((config as unknown as Dynamic).http.services)[0]!;
    expect(service.loadBalancer.server).toEqual({ port: 3000 });
    expect(Object.values((config as unknown as Dynamic).http.routers)[0]!.entryPoints).toEqual(["https"]);
  });

  it("local mode: forwardAuth to the local verifier on the same host, same schema and semantics", () => {
    // What --check local produces: the verifier (npm run verifier, default 127.0.0.1:8788) in place of the signer.
    const verifierArgs = ARGS.map((arg) => (arg === "http://jwt-cookie:8787" ? "http://127.0.0.1:8788" : arg));
    const config = parse(generated(verifierArgs, ENV)) as Dynamic;
    expect(validate(config, DYNAMIC_CONFIG)).toEqual([]);
    checkSemantics(config, "http://127.0.0.1:8788");
  });

  it("the schema check itself catches a misspelt or mistyped field", () => {
    const config = parse(generated(ARGS, ENV)) as Dynamic;
    const auth = Object.values(config.http.middlewares).find((m) => m.forwardAuth)!.forwardAuth!;
    auth.authResponseHeader = auth.authResponseHeaders;
    auth.trustForwardHeader = "false";
    expect(validate(config, DYNAMIC_CONFIG)).toEqual([
      "$.http.middlewares.jwt-cookie.forwardAuth.trustForwardHeader: expected boolean, got \"false\"",
      "$.http.middlewares.jwt-cookie.forwardAuth.authResponseHeader: not a documented field",
    ]);
    expect(labelsToDynamicConfig(["traefik.http.middlewares.x.forwardauth.adress=http://a/verify"]).problems[0]).toContain('"adress" is not a documented field');
  });
});
