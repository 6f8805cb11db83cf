import { describe, expect, test } from "vitest";
import { clientKey } from "../../../worker/http/client-key.js";

describe("clientKey", () => {
  test("an IPv4 address is its own key (also when written IPv4-mapped)", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("unknown")).toBe("unknown");
  });
  test("every address of one IPv6 /64 has the same key, however it is written; another /64 has another", () => {
    const keys = ["2001:db8:1:2::1", "2001:DB8:1:2:a:b:c:d", "2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2::"].map(clientKey);
    expect(new Set(keys)).toEqual(new Set(["2001:db8:1:2::/64"]));
    expect(clientKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
    expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
  });
  test("something that is not an address is kept as it is", () => {
    expect(clientKey("not:an:address:zz")).toBe("not:an:address:zz");
  });
});
