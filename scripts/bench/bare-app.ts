/**
 * The comparison app: the product's Hono app unchanged, plus GET /bare, which answers 200
 * without looking at anything (no runtime, no cookie, no key). A request for /bare goes to a
 * one-route app of its own and never reaches the product's middleware; every other request
 * goes to the product's app exactly as deployed. Not `app.route("/", product)`: mounting
 * wraps each of the product's handlers in its error handler (an extra async composition per
 * request that the deployed app does not run) and makes /bare match the product's "*"
 * middleware too. Used on Node (signers.ts, verifier.ts) and in workerd (bench-worker.ts).
 */
import { Hono, type Env } from "hono";
import { getPath } from "hono/utils/url";

export const BARE_PATH = "/bare";
/**
 * A second bare route that answers with headers copied once from a real answer (part 8:
 * /verify's), so the same bytes go over the wire as for that route: it tells how much of a
 * route's cost is the size of its answer rather than its work. A diagnostic, not a target.
 */
export const BARE_ANSWER_PATH = "/bare-answer";

export interface BareApp<E extends Env> extends Pick<Hono<E>, "fetch"> {
  /** The headers BARE_ANSWER_PATH answers with from now on. */
  answerWith(headers: Record<string, string>): void;
}

export function withBareRoute<E extends Env>(product: Pick<Hono<E>, "fetch">): BareApp<E> {
  let answerHeaders: Record<string, string> = {};
  const bare = new Hono<E>();
  bare.get(BARE_PATH, (c) => c.body(null, 200));
  bare.get(BARE_ANSWER_PATH, () => new Response(null, { status: 200, headers: answerHeaders }));
  return {
    fetch: (request, env, executionCtx) => {
      const path = getPath(request);
      return (path === BARE_PATH || path === BARE_ANSWER_PATH ? bare : product).fetch(request, env, executionCtx);
    },
    answerWith: (headers) => {
      answerHeaders = { ...headers };
    },
  };
}
