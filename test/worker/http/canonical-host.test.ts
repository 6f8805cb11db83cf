import { describe, expect, test } from "vitest";
import { canonicalHost, isHostName } from "../../../worker/http/canonical-host.js";

describe("canonicalHost", () => {
  test.each([
    ["grafana.example.test", "grafana.example.test"],
    ["GRAFANA.Example.TEST", "grafana.example.test"],
    ["grafana.example.test.", "grafana.example.test"],
    ["GRAFANA.EXAMPLE.TEST.", "grafana.example.test"],
    ["grafana.example.test.:8080", "grafana.example.test"],
    ["grafana.example.test:443", "grafana.example.test"],
    ["localhost", "localhost"],
    ["127.0.0.1:8080", "127.0.0.1"],
    ["[::1]:8443", "[::1]"],
    ["[0:0:0:0:0:0:0:1]", "[::1]"],
    ["bücher.example.test", "xn--bcher-kva.example.test"],
    ["BÜCHER.example.test.:81", "xn--bcher-kva.example.test"],
  ])("%s → %s", (raw, canonical) => {
    expect(canonicalHost(raw)).toBe(canonical);
  });

  test.each([
    "",
    ".",
    "..",
    "grafana.example.test..",
    ".grafana.example.test",
    "grafana..example.test",
    "grafana.example.test:",
    "grafana.example.test:80:80",
    "grafana.example.test:abc",
    "grafana.example.test:123456",
    "graf ana.example.test",
    "grafana.example.test\t",
    "grafana.example.test\u0000",
    "grafana_x.example.test",
    "grafana%2eexample.test",
    "user@grafana.example.test",
    "grafana.example.test/path",
    "grafana.example.test\\x",
    "-grafana.example.test",
    "grafana-.example.test",
    "[::1",
    "[::1]x",
    "[zz::1]",
    "0x7f.0.0.1",
    "2130706433",
    "127.1",
    "1.2.3.256",
    "a".repeat(64) + ".example.test",
    `${"a.".repeat(130)}test`,
  ])("refuses %j", (raw) => {
    expect(canonicalHost(raw)).toBeUndefined();
  });

  test("null and undefined are no host", () => {
    expect(canonicalHost(undefined)).toBeUndefined();
    expect(canonicalHost(null)).toBeUndefined();
  });

  test("isHostName takes only canonical names", () => {
    expect(isHostName("a.example.test")).toBe(true);
    expect(isHostName("A.example.test")).toBe(false);
    expect(isHostName("a.example.test.")).toBe(false);
  });
});
