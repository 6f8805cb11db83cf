/**
 * The gate beyond the proxy contract, in workerd: bodies stream both ways (shown by origin and
 * client waiting on each other, which a buffering gate could never satisfy), WebSockets pass,
 * a hostile Host / X-Forwarded-Host switches neither role nor rule, a sign-out at the signer
 * (or in KV from another location) ends the session at the gate, a hostname that is not gated
 * is the signer's, what the origin gets of our cookie, origin errors, and Node's refusal.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { startNodeSigner, testSigningKey } from "../support/signer.js";
import { send, type Reply } from "./support/http-client.js";
import { freePort } from "./support/processes.js";
import type { EchoedRequest } from "./support/upstream.js";
import { ADMIN_HOST, COOKIE_NAME, OPEN_HOST, startGateWorld, type World } from "./support/world.js";

const FILES_HOST = "files.example.test";
const DOWN_HOST = "down.example.test";
const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const BLOCK = randomBytes(MiB);
/** How long one side waits for the other before the test calls it buffering. */
const PATIENCE_MS = 15_000;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${PATIENCE_MS} ms`)), PATIENCE_MS))]);
}

/** The origin behind FILES_HOST: uploads, downloads, status codes, redirects and a WebSocket echo. */
async function startFilesOrigin() {
  const state = {
    firstUploadChunk: deferred(),
    clientGotFirstDownloadChunk: deferred(),
    upgrades: [] as IncomingHttpHeaders[],
  };
  const server = createServer((req: IncomingMessage, res) => {
    if (req.url === "/upload") {
      const hash = createHash("sha256");
      let bytes = 0;
      req.on("data", (chunk: Buffer) => {
        if (bytes === 0) state.firstUploadChunk.resolve();
        bytes += chunk.length;
        hash.update(chunk);
      });
      req.on("end", () => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ bytes, sha256: hash.digest("hex") }));
      });
      return;
    }
    if (req.url === "/download") {
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(TOTAL) });
      res.write(BLOCK);
      // The rest only once the client has the first MiB: a gate that waited for the whole
      // body before answering would wait forever, and the client would see the reset.
      within(state.clientGotFirstDownloadChunk.promise, "the client did not get the first MiB of the download").then(
        async () => {
          for (let sent = MiB; sent < TOTAL; sent += MiB) {
            if (!res.write(BLOCK)) await new Promise((r) => res.once("drain", r));
          }
          res.end();
        },
        () => res.destroy(),
      );
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(req.url ?? "")?.[1];
    if (status) {
      res.writeHead(Number(status), { "Content-Type": "text/plain", "X-From": "origin" });
      res.end(`origin says ${status}`);
      return;
    }
    if (req.url === "/redirect") {
      res.writeHead(302, { Location: "https://elsewhere.example.test/next" });
      res.end();
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket, req) => {
    state.upgrades.push(req.headers);
    socket.on("message", (data) => socket.send(`echo: ${String(data)}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("the Worker as the gate, in workerd", () => {
  let world: World & { signer: { revokedSessions(): ReturnType<import("miniflare").Miniflare["getKVNamespace"]> } };
  let files: Awaited<ReturnType<typeof startFilesOrigin>>;
  let port: number;
  let cookie: string;

  beforeAll(async () => {
    files = await startFilesOrigin();
    // Nothing listens on DOWN_HOST's origin.
    world = await startGateWorld({ [FILES_HOST]: files.url, [DOWN_HOST]: `http://127.0.0.1:${await freePort()}` });
    port = Number(new URL(world.signer.url).port);
    cookie = await world.cookieFor(world.user);
  });
  afterAll(async () => {
    await world?.close();
    await files?.close();
  });

  const at = (host: string) => `${host}:${port}`;
  const reachedUpstream = (path: string): EchoedRequest | undefined => world.upstream.received.find((r) => r.url === path);
  const echoed = (reply: Reply): EchoedRequest => {
    expect(reply.status, reply.body).toBe(200);
    expect(reply.headers["x-echo"]).toBe("upstream");
    return JSON.parse(reply.body) as EchoedRequest;
  };
  const unique = () => `/g/${randomBytes(8).toString("hex")}`;

  describe("streaming", () => {
    it("passes a 64 MiB upload on as it arrives: the origin has the first MiB while the client still holds the rest", async () => {
      const sent = createHash("sha256");
      const reply = deferred<{ status: number; body: string }>();
      const req = httpRequest({
        host: "127.0.0.1",
        port,
        path: "/upload",
        method: "POST",
        agent: false,
        headers: { Host: at(FILES_HOST), Cookie: `${COOKIE_NAME}=${cookie}`, "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => reply.resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", (error) => reply.resolve({ status: 0, body: String(error) }));
      req.write(BLOCK);
      sent.update(BLOCK);
      // A gate that read the whole body before calling the origin never lets this resolve.
      await within(files.state.firstUploadChunk.promise, "the origin did not see the first MiB of the upload");
      for (let written = MiB; written < TOTAL; written += MiB) {
        sent.update(BLOCK);
        if (!req.write(BLOCK)) await new Promise((r) => req.once("drain", r));
      }
      req.end();
      const { status, body } = await reply.promise;
      expect(status, body).toBe(200);
      expect(JSON.parse(body)).toEqual({ bytes: TOTAL, sha256: sent.digest("hex") });
    });

    it("passes a 64 MiB download on as it arrives: the client has the first MiB before the origin sends the rest", async () => {
      const got = createHash("sha256");
      const result = await new Promise<{ status: number; bytes: number }>((resolve, reject) => {
        const req = httpRequest(
          { host: "127.0.0.1", port, path: "/download", agent: false, headers: { Host: at(FILES_HOST), Cookie: `${COOKIE_NAME}=${cookie}` } },
          (res) => {
            let bytes = 0;
            res.on("data", (chunk: Buffer) => {
              bytes += chunk.length;
              got.update(chunk);
              if (bytes >= MiB) files.state.clientGotFirstDownloadChunk.resolve();
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end();
      });
      expect(result).toEqual({ status: 200, bytes: TOTAL });
      const expected = createHash("sha256");
      for (let i = 0; i < TOTAL / MiB; i++) expected.update(BLOCK);
      expect(got.digest("hex")).toBe(expected.digest("hex"));
    });
  });

  describe("WebSocket", () => {
    const open = (headers: Record<string, string>) =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: at(FILES_HOST), ...headers } });
        socket.once("open", () => resolve(socket));
        socket.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        socket.once("error", reject);
      });

    it("passes an upgrade with a valid cookie through to the origin, with the signer's identity and not the client's", async () => {
      const socket = await open({ Cookie: `${COOKIE_NAME}=${cookie}`, "Remote-User": world.admin.id });
      const answer = new Promise<string>((resolve) => socket.once("message", (data) => resolve(String(data))));
      socket.send("hello");
      expect(await answer).toBe("echo: hello");
      socket.close();
      const upgrade = files.state.upgrades.at(-1)!;
      expect(upgrade["remote-user"]).toBe(world.user.id);
      expect(upgrade.cookie).toBeUndefined();
    });

    it("refuses an upgrade without a session before it reaches the origin", async () => {
      const before = files.state.upgrades.length;
      await expect(open({})).rejects.toThrow("HTTP 401");
      expect(files.state.upgrades.length).toBe(before);
    });
  });

  describe("which role answers", () => {
    it("gives a gated hostname's /session, /logout, /verify, /login and every other signer path to the origin", async () => {
      const paths = ["/", "/session", "/logout", "/verify", "/login?rd=x", "/.well-known/jwks.json", "/public-key.pem", "/jwt-cookie.js", "/healthz"];
      for (const path of paths) {
        for (const method of ["GET", "POST"]) {
          const reply = await send(port, { host: at(OPEN_HOST), path, method, headers: { Cookie: `${COOKIE_NAME}=${cookie}`, Origin: "https://ha.example.com" } });
          const seen = echoed(reply);
          expect([seen.method, seen.url]).toEqual([method, path]);
          expect(reply.headers["set-cookie"], `${method} ${path}`).toBeUndefined();
        }
        const refused = await send(port, { host: at(OPEN_HOST), path, headers: { Accept: "application/json" } });
        expect(refused.status, path).toBe(401);
        expect(JSON.parse(refused.body).error).toBe("no_session");
      }
      // The session still works afterwards: the origin's /logout was not the signer's.
      echoed(await send(port, { host: at(OPEN_HOST), path: unique(), headers: { Cookie: `${COOKIE_NAME}=${cookie}` } }));
    });

    it("answers a hostname that is not gated with the signer's own routes and never proxies it", async () => {
      for (const host of [world.signer.url.replace("http://", ""), at("auth.example.test"), at("other.example.test")]) {
        const path = unique();
        const missing = await send(port, { host, path, headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
        expect(missing.status, host).toBe(404);
        expect(JSON.parse(missing.body).error).toBe("not_found");
        expect(reachedUpstream(path)).toBeUndefined();
        const index = await send(port, { host, path: "/" });
        expect(JSON.parse(index.body).service).toBe("jwt-cookie signer");
      }
    });

    it("reads the role from the routed host: X-Forwarded-Host switches nothing, spellings of a gated host are that host", async () => {
      const headers = { Cookie: `${COOKIE_NAME}=${cookie}`, Accept: "application/json" };
      // The signer's hostname, claiming to be forwarded for a gated one: still the signer.
      const toSigner = unique();
      const signer = await send(port, { host: at("auth.example.test"), path: toSigner, headers: { ...headers, "X-Forwarded-Host": OPEN_HOST } });
      expect(signer.status).toBe(404);
      expect(reachedUpstream(toSigner)).toBeUndefined();
      // A gated hostname, claiming to be the signer's: still the gate.
      const seen = echoed(await send(port, { host: at(OPEN_HOST), path: "/session", method: "POST", headers: { ...headers, "X-Forwarded-Host": "auth.example.test" } }));
      expect(seen.url).toBe("/session");
      const noSession = await send(port, { host: at(OPEN_HOST), path: "/healthz", headers: { Accept: "application/json", "X-Forwarded-Host": "auth.example.test" } });
      expect(noSession.status).toBe(401);
      // Case, a trailing dot: the same gated host and its ACCESS_RULES.
      echoed(await send(port, { host: `GRAFANA.Example.TEST.:${port}`, path: unique(), headers }));
      expect((await send(port, { host: `Admin.Example.Test.:${port}`, path: unique(), headers })).status).toBe(403);
      // A look-alike is not the gated host.
      const lookAlike = unique();
      expect((await send(port, { host: at(`${OPEN_HOST}.evil.test`), path: lookAlike, headers })).status).toBe(404);
      expect(reachedUpstream(lookAlike)).toBeUndefined();
    });
  });

  describe("signing out", () => {
    it("ends the session at the gate after POST /logout on the signer's hostname", async () => {
      const session = await world.cookieFor(world.user);
      echoed(await send(port, { host: at(OPEN_HOST), path: unique(), headers: { Cookie: `${COOKIE_NAME}=${session}` } }));
      const logout = await send(port, { host: at("auth.example.test"), path: "/logout", method: "POST", headers: { Cookie: `${COOKIE_NAME}=${session}` } });
      expect(logout.status).toBe(200);
      const path = unique();
      expect((await send(port, { host: at(OPEN_HOST), path, headers: { Accept: "application/json", Cookie: `${COOKIE_NAME}=${session}` } })).status).toBe(401);
      expect(reachedUpstream(path)).toBeUndefined();
    });

    it("refuses a session that another location signed out, once KV has it", async () => {
      const session = await world.cookieFor(world.user);
      const { jti, exp } = JSON.parse(Buffer.from(session.split(".")[1]!, "base64url").toString()) as { jti: string; exp: number };
      await (await world.signer.revokedSessions()).put(`revoked:${jti}`, "1", { expiration: exp });
      expect((await send(port, { host: at(OPEN_HOST), path: unique(), headers: { Accept: "application/json", Cookie: `${COOKIE_NAME}=${session}` } })).status).toBe(401);
    });
  });

  describe("what the origin gets", () => {
    it("loses our cookie and keeps the others, keeps an Authorization that did not sign in, loses a Bearer JWT that did", async () => {
      const withCookie = echoed(
        await send(port, { host: at(OPEN_HOST), path: unique(), headers: { Cookie: `a=1; ${COOKIE_NAME}=${cookie}; b=2`, Authorization: "Basic b3JpZ2luOnNlY3JldA==" } }),
      );
      expect(withCookie.headers.cookie).toBe("a=1; b=2");
      expect(withCookie.headers.authorization).toBe("Basic b3JpZ2luOnNlY3JldA==");
      const onlyOurs = echoed(await send(port, { host: at(OPEN_HOST), path: unique(), headers: { Cookie: `${COOKIE_NAME}=${cookie}` } }));
      expect(onlyOurs.headers.cookie).toBeUndefined();
      const bearer = echoed(await send(port, { host: at(OPEN_HOST), path: unique(), headers: { Authorization: `Bearer ${cookie}`, Cookie: "a=1" } }));
      expect(bearer.headers["remote-user"]).toBe(world.user.id);
      expect(bearer.headers.authorization).toBeUndefined();
      expect(bearer.headers.cookie).toBe("a=1");
    });

    it("gets the origin's own status, headers, body and redirects unchanged", async () => {
      for (const status of [404, 500, 503]) {
        const reply = await send(port, { host: at(FILES_HOST), path: `/status/${status}`, headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
        expect([reply.status, reply.headers["x-from"], reply.body]).toEqual([status, "origin", `origin says ${status}`]);
      }
      const redirect = await send(port, { host: at(FILES_HOST), path: "/redirect", headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
      expect([redirect.status, redirect.headers.location]).toEqual([302, "https://elsewhere.example.test/next"]);
    });

    it("answers 502 JSON without details when the origin cannot be reached", async () => {
      const reply = await send(port, { host: at(DOWN_HOST), path: "/", headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
      expect(reply.status).toBe(502);
      expect(JSON.parse(reply.body)).toEqual({ error: "origin_unreachable", message: "The protected service did not answer; try again later." });
    });
  });
});

describe("the gate with GATE_FORWARD_COOKIE=true", () => {
  let world: World;
  let port: number;
  beforeAll(async () => {
    world = await startGateWorld({}, { GATE_FORWARD_COOKIE: "true" });
    port = Number(new URL(world.signer.url).port);
  });
  afterAll(() => world?.close());

  it("leaves our cookie and the Bearer JWT in the request to the origin", async () => {
    const cookie = await world.cookieFor(world.user);
    const viaCookie = await send(port, { host: `${OPEN_HOST}:${port}`, path: "/c", headers: { Cookie: `${COOKIE_NAME}=${cookie}` } });
    expect(JSON.parse(viaCookie.body).headers.cookie).toBe(`${COOKIE_NAME}=${cookie}`);
    const viaBearer = await send(port, { host: `${ADMIN_HOST}:${port}`, path: "/b", headers: { Authorization: `Bearer ${await world.cookieFor(world.admin)}` } });
    expect(JSON.parse(viaBearer.body).headers.authorization).toMatch(/^Bearer /);
  });
});

describe("GATED_HOSTS on Node", () => {
  it("is a configuration error: every request answers 500 misconfigured naming GATED_HOSTS, nothing is proxied", async () => {
    const signer = await startNodeSigner({
      HA_URL: "https://ha.example.test",
      SIGNING_KEY: await testSigningKey(),
      COOKIE_DOMAIN: ".example.test",
      PUBLIC_URL: "https://auth.example.test",
      GATED_HOSTS: OPEN_HOST,
    });
    try {
      const port = Number(new URL(signer.url).port);
      for (const host of [`${OPEN_HOST}:${port}`, `127.0.0.1:${port}`]) {
        const reply = await send(port, { host, path: "/healthz" });
        expect(reply.status).toBe(500);
        const body = JSON.parse(reply.body) as { error: string; message: string };
        expect(body.error).toBe("misconfigured");
        expect(body.message).toMatch(/GATED_HOSTS is for the Worker on Cloudflare only/);
      }
    } finally {
      await signer.close();
    }
  });
});
