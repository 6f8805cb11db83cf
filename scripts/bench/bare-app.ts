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

export function withBareRoute<E extends Env>(product: Hono<E>): Pick<Hono<E>, "fetch"> {
  const bare = new Hono<E>();
  bare.get(BARE_PATH, (c) => c.body(null, 200));
  return {
    fetch: (request, env, executionCtx) => (getPath(request) === BARE_PATH ? bare : product).fetch(request, env, executionCtx),
  };
}
