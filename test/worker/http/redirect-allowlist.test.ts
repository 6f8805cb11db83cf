import { describe, expect, test } from "vitest";
import { loadSettings } from "../../../worker/config.js";
import { allowedRedirect } from "../../../worker/http/redirect-allowlist.js";

const r = loadSettings({
  HA_URL: "https://ha.example.com",
  SIGNING_KEY: "x",
  COOKIE_DOMAIN: ".example.com",
  REDIRECT_ALLOWLIST: "nas.example.net,*.lan.example.org,https://cam.example.io:8443",
  PUBLIC_URL: "https://auth.example.com",
});
if (!r.ok) throw new Error("settings");
const settings = r.settings;

describe("allowedRedirect", () => {
  test.each([
    "https://grafana.example.com/d/abc?x=1#y",
    "https://example.com/",
    "http://grafana.example.com/",
    "https://ha.example.com/lovelace",
    "https://nas.example.net/",
    "https://a.lan.example.org/",
    "https://cam.example.io:8443/live",
    "https://GRAFANA.Example.COM/",
  ])("allows %s", (target) => {
    expect(allowedRedirect(target, settings)).toBe(new URL(target).href);
  });

  test.each([
    ["scheme-relative", "//evil.example"],
    ["triple slash", "///evil.example"],
    ["path only", "/local"],
    ["userinfo trick", "https://evil.example@ha.example.com"],
    ["userinfo reversed", "https://ha.example.com@evil.example/"],
    ["suffix trick", "https://ha.example.com.evil.example/"],
    ["no dot boundary", "https://evilexample.com/"],
    ["javascript", "javascript:alert(1)"],
    ["javascript mixed case", "JaVaScRiPt:alert(1)//https://ha.example.com"],
    ["data", "data:text/html,<script>alert(1)</script>"],
    ["backslash", "https:\\\\evil.example"],
    ["backslash host", "https://evil.example\\@ha.example.com"],
    ["backslash after scheme", "https:/\\evil.example"],
    ["percent-encoded slashes", "https:%2F%2Fevil.example"],
    ["percent-encoded at", "https://evil.example%40ha.example.com/"],
    ["encoded whole", "https%3A%2F%2Fevil.example"],
    ["tab in host", "https://evil\t.example/"],
    ["newline", "https://ha.example.com/\nLocation: https://evil.example"],
    ["leading space", " https://ha.example.com/"],
    ["IDN look-alike (Cyrillic a)", "https://grafаna.exаmple.com/"],
    ["wrong port for origin entry", "https://cam.example.io/"],
    ["other scheme", "ftp://grafana.example.com/"],
    ["unlisted", "https://evil.example/"],
    ["empty", ""],
    ["huge", `https://grafana.example.com/${"a".repeat(5000)}`],
  ])("refuses %s", (_label, target) => {
    expect(allowedRedirect(target, settings)).toBeUndefined();
  });

  test("look-alike dots are normalised the way browsers do, so what we check is where the browser goes", () => {
    // U+FF0E becomes "." in the URL parser (and in browsers): this really is evil.example.com,
    // a host under our own cookie domain, and the Location we send says so in ASCII.
    expect(allowedRedirect("https://evil.example\uff0ecom/", settings)).toBe("https://evil.example.com/");
    expect(allowedRedirect("https://evil\uff0eexample/", settings)).toBeUndefined();
  });

  test("without COOKIE_DOMAIN only Home Assistant, the signer and the allow-list are allowed", () => {
    const s = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x" });
    if (!s.ok) throw new Error();
    expect(allowedRedirect("https://grafana.example.com/", s.settings)).toBeUndefined();
    expect(allowedRedirect("https://ha.example.com/", s.settings)).toBe("https://ha.example.com/");
    expect(allowedRedirect("https://auth.example.com/x", s.settings, "https://auth.example.com")).toBe("https://auth.example.com/x");
  });
});
