/**
 * Reading one header of the request, for a route on a hot path. Both readers give what the
 * Fetch API's Headers.get() gives: every value of the name, in order, joined by ", " (the
 * Cookie header by "; "), without leading or trailing whitespace; undefined when absent.
 */
import type { Context } from "hono";

/** One header by its name in lower case. */
export type HeaderReader = (c: Context, lowerName: string) => string | undefined;

/** Through the Fetch API: Workers, the signer, and an app driven with app.request(). */
export const fetchHeader: HeaderReader = (c, lowerName) => c.req.header(lowerName);

interface NodeBindings {
  incoming?: { rawHeaders?: unknown };
}

/**
 * For an app whose fetch @hono/node-server calls as it is (the local verifier): there c.env is
 * { incoming, outgoing }, and this reads Node's own parsed header list (incoming.rawHeaders)
 * instead of the adapter's Headers object, whose creation and per-call name validation cost
 * the verifier's /verify more than its check (docs/benchmarks.md, issue 9). Node's parser has
 * already refused a request whose header names or values are malformed (NUL, CR or LF in a
 * value answers 400 before any route runs). Anywhere else it reads through the Fetch API.
 */
export const nodeHeader: HeaderReader = (c, lowerName) => {
  const raw = (c.env as NodeBindings | undefined)?.incoming?.rawHeaders;
  if (!Array.isArray(raw)) return c.req.header(lowerName);
  const separator = lowerName === "cookie" ? "; " : ", ";
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    const one = trimHttpWhitespace(raw[i + 1] as string);
    value = value === undefined ? one : value + separator + one;
  }
  return value;
};

function isHttpWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function trimHttpWhitespace(value: string): string {
  if (value === "" || (!isHttpWhitespace(value.charCodeAt(0)) && !isHttpWhitespace(value.charCodeAt(value.length - 1)))) return value;
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}
