/**
 * Worker entry for the benchmark only: the product's Worker (worker/index.ts, as deployed)
 * with the extra /bare route, so /verify and /bare are measured on the same workerd server.
 * Bundled by signers.ts with `wrangler deploy --dry-run` and a temporary wrangler.toml.
 */
import product from "../../worker/index.js";
import { withBareRoute } from "./bare-app.js";

export default withBareRoute(product);
