/**
 * Every failure the signer answers is JSON {"error": code, "message": what happened and
 * what to do}. Nothing else (no stack, no exception text) ever reaches a client.
 */
import type { Context, Env, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function errorResponse(c: Context, error: HttpError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  c.header("Cache-Control", "no-store");
  return c.json({ error: error.code, message: error.message }, error.status);
}

/**
 * Every role's app answers failures the same way: an HttpError as it is, anything else as a
 * generic 500 (its text only in the log), unknown paths as 404 JSON.
 */
export function answerErrorsAsJson<E extends Env>(app: Hono<E>, role: "signer" | "verifier"): void {
  const logPrefix = role === "signer" ? "[jwt-cookie]" : "[jwt-cookie verifier]";
  app.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error);
    console.error(`${logPrefix} unexpected error:`, error instanceof Error ? error.message : String(error));
    return errorResponse(c, new HttpError(500, "internal", `The ${role} failed unexpectedly; see its log.`));
  });
  app.notFound((c) => errorResponse(c, new HttpError(404, "not_found", `No such endpoint: ${c.req.method} ${new URL(c.req.url).pathname}.`)));
}
