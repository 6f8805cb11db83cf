/** GATED_HOSTS and GATE_FORWARD_COOKIE: what config.ts accepts, and what it refuses with which message. */
import { describe, expect, test } from "vitest";
import { describeProblems, loadSettings } from "../../worker/config.js";

const gateEnv = {
  HA_URL: "https://ha.example.com",
  SIGNING_KEY: "x",
  COOKIE_DOMAIN: ".example.com",
  PUBLIC_URL: "https://auth.example.com",
};

function problems(env: Record<string, string>, platform: "workers" | "node" = "workers"): string {
  const result = loadSettings(env, platform);
  return result.ok ? "" : describeProblems(result.problems);
}

describe("GATED_HOSTS", () => {
  test("unset: no gate, and the cookie is not forwarded by default", () => {
    const result = loadSettings(gateEnv);
    expect(result.ok && [...result.settings.gatedHosts]).toEqual([]);
    expect(result.ok && result.settings.gateForwardCookie).toBe(false);
  });

  test("hostnames are canonicalised (case, trailing dot, IDN) and deduplicated", () => {
    const result = loadSettings({ ...gateEnv, GATED_HOSTS: "Grafana.Example.com., grafana.example.com,nas.example.com bücher.example.com" });
    expect(result.ok && [...result.settings.gatedHosts]).toEqual(["grafana.example.com", "nas.example.com", "xn--bcher-kva.example.com"]);
  });

  test("GATE_FORWARD_COOKIE is a boolean", () => {
    const result = loadSettings({ ...gateEnv, GATED_HOSTS: "grafana.example.com", GATE_FORWARD_COOKIE: "true" });
    expect(result.ok && result.settings.gateForwardCookie).toBe(true);
    expect(problems({ ...gateEnv, GATE_FORWARD_COOKIE: "maybe" })).toMatch(/^GATE_FORWARD_COOKIE "maybe" is not a boolean/);
  });

  test.each([
    ["*.example.com", /wildcards are not accepted/],
    ["https://grafana.example.com", /is not a hostname: list bare hostnames without scheme, port or path/],
    ["grafana.example.com:443", /is not a hostname/],
    ["grafana.example.com/path", /is not a hostname/],
    ["192.168.1.10", /is not a hostname/],
    ["localhost", /is not a hostname/],
    ["bad_host.example.com", /is not a hostname/],
    ["auth.example.com", /is the signer's own hostname \(PUBLIC_URL\)/],
    ["AUTH.example.com.", /is the signer's own hostname/],
    ["ha.example.com", /is Home Assistant's hostname \(HA_URL\)/],
    ["grafana.example.net", /is not under COOKIE_DOMAIN \(\.example\.com\)/],
  ])("refuses %s with a message naming the key and the fix", (item, message) => {
    const text = problems({ ...gateEnv, GATED_HOSTS: `grafana.example.com,${item}` });
    expect(text).toMatch(/^GATED_HOSTS /);
    expect(text).toMatch(message);
  });

  test("needs PUBLIC_URL (where the gate sends browsers to sign in) and a COOKIE_DOMAIN that covers the hosts", () => {
    const { PUBLIC_URL: _, ...noPublicUrl } = gateEnv;
    expect(problems({ ...noPublicUrl, GATED_HOSTS: "grafana.example.com" })).toMatch(/^GATED_HOSTS needs PUBLIC_URL/);
    const { COOKIE_DOMAIN: __, ...hostOnly } = gateEnv;
    expect(problems({ ...hostOnly, GATED_HOSTS: "grafana.example.com" })).toMatch(/never gets the cookie, which is host-only.*set COOKIE_DOMAIN/);
  });

  test("is refused on Node, with the way to protect those hostnames there instead", () => {
    expect(problems({ ...gateEnv, GATED_HOSTS: "grafana.example.com" }, "node")).toMatch(
      /^GATED_HOSTS is for the Worker on Cloudflare only.*reverse proxy that asks \/verify/,
    );
    expect(loadSettings(gateEnv, "node").ok).toBe(true);
  });
});
