/**
 * The two ways a route reads a request header must agree with the Fetch API's Headers.get()
 * for every header list Node's parser can hand over: duplicates joined in order (", ", the
 * Cookie header "; "), names in any case, whitespace around values dropped, absent names
 * undefined. nodeHeader reads Node's rawHeaders when @hono/node-server serves the app, and
 * goes through the Fetch API anywhere else.
 */
import type { Context } from "hono";
import { describe, expect, test } from "vitest";
import { fetchHeader, nodeHeader } from "../../../worker/http/request-header.js";

type Raw = Array<[string, string]>;

/** A context as @hono/node-server builds it: env { incoming, outgoing }; the Fetch side must not be used. */
function nodeContext(raw: Raw): Context {
  return {
    env: { incoming: { rawHeaders: raw.flat() }, outgoing: {} },
    req: {
      header: () => {
        throw new Error("read through the Fetch API although Node's header list was there");
      },
    },
  } as unknown as Context;
}

/** A context whose headers only the Fetch API has (Workers, app.request). */
function fetchContext(raw: Raw, env?: unknown): Context {
  const headers = new Headers(raw);
  return { env, req: { header: (name: string) => headers.get(name) ?? undefined } } as unknown as Context;
}

const NAMES = ["cookie", "authorization", "x-forwarded-host", "x-forwarded-uri", "accept", "x-forwarded-method"];

const LISTS: Array<[string, Raw]> = [
  ["none", []],
  ["one of each", [["Cookie", "a=1"], ["Authorization", "Bearer x.y.z"], ["X-Forwarded-Host", "grafana.example.test"]]],
  ["two Cookie lines", [["Cookie", "a=1"], ["Cookie", "jwt_access_token=x.y.z"]]],
  ["three Cookie lines, any case", [["cookie", "a=1"], ["COOKIE", "b=2"], ["CoOkIe", "c=3"]]],
  ["two Authorization lines (Node's headers object would keep only the first)", [["Authorization", "Bearer a.b.c"], ["authorization", "Basic Zm9vOmJhcg=="]]],
  ["two X-Forwarded-Host lines", [["X-Forwarded-Host", "mine.example.test"], ["x-forwarded-host", "grafana.example.test"]]],
  ["whitespace around values", [["Cookie", "  a=1 \t"], ["Accept", "\ttext/html "], ["X-Forwarded-Uri", " /d/1 "]]],
  ["empty values", [["Cookie", ""], ["Authorization", ""], ["Cookie", "a=1"]]],
  ["a tab inside a value", [["X-Forwarded-Uri", "/a\tb"]]],
  ["Latin-1 bytes", [["X-Forwarded-Uri", "/caf\u00e9"]]],
  ["names of the same length as ours", [["Cookies", "no"], ["Coolie", "no"], ["Authorisation", "no"], ["X-Forwarded-Hast", "no"]]],
  ["a long Cookie header", [["Cookie", `jwt_access_token=${"a".repeat(4000)}`], ["Cookie", "b=2"]]],
];

describe.each(LISTS)("%s", (_label, raw) => {
  test.each(NAMES)("%s: what Headers.get() gives", (name) => {
    const expected = new Headers(raw).get(name) ?? undefined;
    expect(nodeHeader(nodeContext(raw), name)).toBe(expected);
    expect(fetchHeader(fetchContext(raw), name)).toBe(expected);
  });
});

test("nodeHeader reads through the Fetch API wherever Node's header list is not in env", () => {
  const raw: Raw = [["Cookie", "a=1"], ["Cookie", "b=2"]];
  for (const env of [undefined, {}, { incoming: undefined }, { incoming: {} }, { incoming: { rawHeaders: "Cookie: forged=1" } }, { HA_URL: "http://ha" }]) {
    expect(nodeHeader(fetchContext(raw, env), "cookie")).toBe("a=1; b=2");
  }
});

test("an odd-length header list (never from Node) ignores the dangling name instead of reading past the end", () => {
  const context = { env: { incoming: { rawHeaders: ["Cookie", "a=1", "Cookie"] } }, req: {} } as unknown as Context;
  expect(nodeHeader(context, "cookie")).toBe("a=1");
});
