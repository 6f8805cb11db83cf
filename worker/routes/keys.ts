/** The public keys, for proxies: a JWKS (current + previous) and the current key as SPKI PEM. */
import { Hono } from "hono";
import type { AppEnv } from "../runtime.js";
import { jwksOf } from "../tokens/jwks.js";

// Short enough that a rotation is picked up within minutes by proxies that poll the JWKS.
const CACHE = "public, max-age=300, must-revalidate";

export function keyRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/.well-known/jwks.json", (c) => {
    c.header("Cache-Control", CACHE);
    c.header("Access-Control-Allow-Origin", "*");
    return c.body(JSON.stringify(jwksOf(c.get("runtime").keys)), 200, { "Content-Type": "application/json" });
  });
  routes.get("/public-key.pem", (c) => {
    c.header("Cache-Control", CACHE);
    return c.body(c.get("runtime").keys.publicKeyPem, 200, { "Content-Type": "application/x-pem-file" });
  });
  return routes;
}
