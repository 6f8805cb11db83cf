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

/**
 * The body as text, or undefined once it passes `limit` bytes: read chunk by chunk and
 * cancelled there, so an answer that never ends costs no more memory than the bound.
 */
async function textWithin(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
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
    const text = await textWithin(response, MAX_BYTES);
    if (text === undefined) return { ok: false, error: `${url}: answer larger than ${MAX_BYTES} bytes` };
    return { ok: true, body: JSON.parse(text), maxAgeMs: maxAgeOf(response.headers.get("Cache-Control")) };
  } catch (error) {
    return { ok: false, error: `${url}: ${error instanceof SyntaxError ? "not JSON" : error instanceof Error ? error.message : String(error)}` };
  }
}
