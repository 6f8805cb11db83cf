/**
 * The comparison app: the product's Hono app unchanged, plus GET /bare, which answers 200
 * without looking at anything (no runtime, no cookie, no key). Registered before the
 * product's routes, so /bare never reaches the product's middleware; every other path is
 * routed exactly as in the product. Used on Node (signers.ts, verifier.ts) and in workerd
 * (bench-worker.ts).
 */
import { Hono, type Env } from "hono";

export const BARE_PATH = "/bare";

export function withBareRoute<E extends Env>(product: Hono<E>): Hono<E> {
  const app = new Hono<E>();
  app.get(BARE_PATH, (c) => c.body(null, 200));
  app.route("/", product);
  return app;
}
