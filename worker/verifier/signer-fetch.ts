/**
 * The verifier's only way to the signer: GET a public JSON document (the check policy,
 * the JWKS, a page of the deny-list feed) with a time limit. Failures come back as a
 * message, never as a throw, so a signer that is down only ever shows in /healthz.
 */

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type SignerDocument = { ok: true; body: unknown; maxAgeMs: number | undefined } | { ok: false; error: string };

const TIMEOUT_MS = 5_000;
const MAX_BYTES = 2_000_000;

export function maxAgeOf(cacheControl: string | null): number | undefined {
  const match = /(?:^|,)\s*max-age=(\d{1,9})\s*(?:,|$)/i.exec(cacheControl ?? "");
  return match ? Number(match[1]) * 1000 : undefined;
}

export async function fetchSignerDocument(fetcher: FetchLike, url: string): Promise<SignerDocument> {
  let response: Response;
  try {
    response = await fetcher(url, { headers: { Accept: "application/json" }, redirect: "error", signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    return { ok: false, error: `${url}: ${error instanceof Error ? error.message : String(error)}` };
  }
  try {
    if (response.status !== 200) return { ok: false, error: `${url}: HTTP ${response.status}` };
    const text = await response.text();
    if (text.length > MAX_BYTES) return { ok: false, error: `${url}: answer larger than ${MAX_BYTES} bytes` };
    return { ok: true, body: JSON.parse(text), maxAgeMs: maxAgeOf(response.headers.get("Cache-Control")) };
  } catch (error) {
    return { ok: false, error: `${url}: ${error instanceof SyntaxError ? "not JSON" : error instanceof Error ? error.message : String(error)}` };
  }
}
