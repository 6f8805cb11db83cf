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

  test("a trailing dot, upper case or an IDN in the target host is judged, and sent on, as the canonical host", () => {
    expect(allowedRedirect("https://grafana.example.com./d?x=1", settings)).toBe("https://grafana.example.com/d?x=1");
    expect(allowedRedirect("https://GRAFANA.EXAMPLE.COM.:8443/", settings)).toBe("https://grafana.example.com:8443/");
    expect(allowedRedirect("https://nas.example.net./", settings)).toBe("https://nas.example.net/");
    expect(allowedRedirect("https://x.lan.example.org./", settings)).toBe("https://x.lan.example.org/");
    expect(allowedRedirect("https://cam.example.io.:8443/", settings)).toBe("https://cam.example.io:8443/");
    expect(allowedRedirect("https://auth.example.com./x", settings)).toBe("https://auth.example.com/x");
    expect(allowedRedirect("https://ha.example.com./", settings)).toBe("https://ha.example.com/");
    // Still refused: the dot changes nothing about whose host it is.
    expect(allowedRedirect("https://example.com.evil.example./", settings)).toBeUndefined();
    expect(allowedRedirect("https://grafana.example.com../", settings)).toBeUndefined();
  });

  test("allow-list entries written with a trailing dot, upper case or Unicode match their canonical hosts", () => {
    const s = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x", REDIRECT_ALLOWLIST: "NAS.Example.Net.,*.Lan.Example.Org.,https://Cam.Example.IO.:8443,bücher.example.test" });
    if (!s.ok) throw new Error(JSON.stringify(s.problems));
    expect(s.settings.redirectAllowlist).toEqual(["nas.example.net", "*.lan.example.org", "https://cam.example.io:8443", "xn--bcher-kva.example.test"]);
    expect(allowedRedirect("https://nas.example.net/", s.settings)).toBe("https://nas.example.net/");
    expect(allowedRedirect("https://a.lan.example.org./", s.settings)).toBe("https://a.lan.example.org/");
    expect(allowedRedirect("https://cam.example.io:8443/", s.settings)).toBe("https://cam.example.io:8443/");
    expect(allowedRedirect("https://bücher.example.test./", s.settings)).toBe("https://xn--bcher-kva.example.test/");
  });

  test("without COOKIE_DOMAIN only Home Assistant, the signer and the allow-list are allowed", () => {
    const s = loadSettings({ HA_URL: "https://ha.example.com", SIGNING_KEY: "x" });
    if (!s.ok) throw new Error();
    expect(allowedRedirect("https://grafana.example.com/", s.settings)).toBeUndefined();
    expect(allowedRedirect("https://ha.example.com/", s.settings)).toBe("https://ha.example.com/");
    expect(allowedRedirect("https://auth.example.com/x", s.settings, "https://auth.example.com")).toBe("https://auth.example.com/x");
  });
});
