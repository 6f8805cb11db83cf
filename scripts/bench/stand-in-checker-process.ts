/**
 * The stand-in checker's process (started by stand-in-checker.ts): plain node:http on
 * 127.0.0.1:PORT that checks nothing. Any request with a Cookie header gets 200 with the
 * headers in ANSWER_HEADERS (a JSON object: what the real /verify answered, X-Accel-Expires
 * moved on with the clock, and sent, as the verifier sends it, only to a proxy that asks with
 * APPROVAL_CACHE_QUERY); one without gets 401. The cheapest forward-auth answer a Node
 * process can give, to measure what the proxy and Node's HTTP cost by themselves. A bench
 * baseline, never a product part.
 */
import { createServer } from "node:http";
import { APPROVAL_CACHE_QUERY } from "../../worker/routes/verify.js";

const port = Number(process.env.PORT);
const answer = JSON.parse(process.env.ANSWER_HEADERS ?? "{}") as Record<string, string>;
const refusal = { "Content-Length": "0" };

// X-Accel-Expires is an absolute second ("@<seconds>", as the verifier tells a caching proxy):
// told again each second, as far ahead as in the copied answer.
const accel = Object.keys(answer).find((name) => name.toLowerCase() === "x-accel-expires");
const ahead = accel && answer[accel]!.startsWith("@") ? Number(answer[accel]!.slice(1)) - Math.floor(Date.now() / 1000) : undefined;
const withoutAccel = Object.fromEntries(Object.entries(answer).filter(([name]) => name !== accel));
let toldSecond = -1;
let told = answer;
function currentAnswer(url: string | undefined): Record<string, string> {
  if (accel === undefined || ahead === undefined) return answer;
  if (!url?.includes(APPROVAL_CACHE_QUERY.param)) return withoutAccel;
  const second = Math.floor(Date.now() / 1000);
  if (second !== toldSecond) {
    toldSecond = second;
    told = { ...answer, [accel]: `@${second + ahead}` };
  }
  return told;
}

createServer((req, res) => {
  res.writeHead(req.headers.cookie === undefined ? 401 : 200, req.headers.cookie === undefined ? refusal : currentAnswer(req.url));
  res.end();
}).listen(port, "127.0.0.1");
