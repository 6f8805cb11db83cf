import { describe, expect, test } from "vitest";
import { loadSettings, type AccessRule } from "../../../worker/config.js";
import { decideAccess, ruleFor } from "../../../worker/http/access-rules.js";
import type { SessionClaims } from "../../../worker/tokens/sign.js";

function rulesFrom(json: Record<string, AccessRule>): Record<string, AccessRule> {
  const r = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ACCESS_RULES: JSON.stringify(json) });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.settings.accessRules;
}

const claims = (roles: string[]): SessionClaims => ({ sub: "u1", name: "Plain", roles, aud: ["homeassistant"], iss: "homeassistant", iat: 0, nbf: 0, exp: 0, jti: "j" });
const plain = claims(["user"]);
const admin = claims(["user", "admin"]);

describe("ACCESS_RULES compare canonical hosts", () => {
  // Keys as an administrator might type them: case, a trailing dot, a Unicode (IDN) name.
  const rules = rulesFrom({
    "Grafana.Example.Test.": { roles: ["admin"] },
    "*.ADMIN.example.test": { roles: ["admin"] },
    "bücher.example.test": { roles: ["admin"] },
  });

  test("the keys are stored canonically, the wildcard keeps its prefix, IDN keys become punycode", () => {
    expect(Object.keys(rules).sort()).toEqual(["*.admin.example.test", "grafana.example.test", "xn--bcher-kva.example.test"]);
  });

  test.each([
    "grafana.example.test",
    "grafana.example.test.",
    "GRAFANA.EXAMPLE.TEST.",
    "grafana.example.test.:8080",
    "Grafana.Example.Test:443",
    "x.admin.example.test.",
    "X.ADMIN.EXAMPLE.TEST.",
    "deep.x.admin.example.test.:8443",
    "bücher.example.test",
    "BÜCHER.example.test.",
    "xn--bcher-kva.example.test.:81",
  ])("%s gets the admin-only rule", (host) => {
    expect(decideAccess(rules, host, plain)).toMatchObject({ allowed: false, reason: expect.stringContaining("needs the role admin") });
    expect(decideAccess(rules, host, admin)).toEqual({ allowed: true });
  });

  test.each([
    "grafana.example.test..",
    ".grafana.example.test",
    "grafana.example.test:",
    "grafana.example.test:x",
    "grafana example.test",
    "grafana.example.test,other.example.test",
    "grafana.example.test/",
    "user@grafana.example.test",
    "grafana_x.example.test",
    "grafana%2eexample%2etest",
    "0x7f.1",
    "",
  ])("an invalid host %j is refused when rules exist, with the reason", (host) => {
    const decision = decideAccess(rules, host, admin);
    expect(decision.allowed).toBe(false);
    expect(!decision.allowed && decision.reason).toMatch(host === "" ? /not a valid host name|did not send/ : /not a valid host name/);
  });

  test("a missing host is refused when rules exist; without rules every host is allowed", () => {
    expect(decideAccess(rules, undefined, admin).allowed).toBe(false);
    expect(decideAccess({}, "grafana.example.test..", plain)).toEqual({ allowed: true });
  });

  test("hosts without a rule stay open; wildcard needs a sub-domain", () => {
    expect(decideAccess(rules, "wiki.example.test.", plain)).toEqual({ allowed: true });
    expect(decideAccess(rules, "admin.example.test", plain)).toEqual({ allowed: true });
    expect(ruleFor(rules, "admin.example.test")).toBeUndefined();
  });

  test("the rule lookup is not fooled by Object.prototype names", () => {
    expect(ruleFor(rules, "constructor")).toBeUndefined();
    expect(decideAccess(rules, "__proto__", plain)).toMatchObject({ allowed: false }); // not a valid host name
  });
});

describe("ACCESS_RULES keys in the configuration", () => {
  test.each([
    [{ "grafana.example.test:8080": { roles: ["admin"] } }, "without port"],
    [{ "*.bad..example.test": { roles: ["admin"] } }, "not a host name"],
    [{ "*.127.0.0.1": { roles: ["admin"] } }, "not a host name"],
    [{ "grafana.example.test": { roles: ["admin"] }, "GRAFANA.example.test.": { roles: ["user"] } }, "same host as another key"],
  ])("%j is refused naming ACCESS_RULES", (json, message) => {
    const r = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", ACCESS_RULES: JSON.stringify(json) });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems.find((p) => p.key === "ACCESS_RULES")?.message).toContain(message);
  });
});
