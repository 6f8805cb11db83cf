/** Cloudflare Workers entry. Cloudflare sets CF-Connecting-IP itself; clients cannot forge it. */
import { createApp } from "./app.js";

export default createApp({
  clientAddress: (c) => c.req.header("CF-Connecting-IP") ?? "unknown",
});
