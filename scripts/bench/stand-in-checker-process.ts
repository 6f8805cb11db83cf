/**
 * The stand-in checker's process (started by stand-in-checker.ts): plain node:http on
 * 127.0.0.1:PORT that checks nothing. Any request with a Cookie header gets 200 with the
 * headers in ANSWER_HEADERS (a JSON object: what the real /verify answered); one without
 * gets 401. The cheapest forward-auth answer a Node process can give, to measure what the
 * proxy and Node's HTTP cost by themselves. A bench baseline, never a product part.
 */
import { createServer } from "node:http";

const port = Number(process.env.PORT);
const answer = JSON.parse(process.env.ANSWER_HEADERS ?? "{}") as Record<string, string>;
const refusal = { "Content-Length": "0" };

createServer((req, res) => {
  res.writeHead(req.headers.cookie === undefined ? 401 : 200, req.headers.cookie === undefined ? refusal : answer);
  res.end();
}).listen(port, "127.0.0.1");
