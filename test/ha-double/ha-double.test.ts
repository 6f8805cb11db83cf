/**
 * Proves the Home Assistant double matches /work/shared/ha-protocol.md frame for frame
 * and status for status (and home-assistant/core 2023.12 where the notes are silent).
 * Where the double deliberately follows the HA source instead of the notes, the test
 * says so ("HA source:").
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createServer } from "node:http";
import type { Server } from "node:http";
import {
  createConnection,
  createLongLivedTokenAuth,
  getUser,
  subscribeEntities,
  ERR_INVALID_AUTH,
} from "home-assistant-js-websocket";
import type { HassEntities } from "home-assistant-js-websocket";
import { startHomeAssistantDouble } from "./index.js";
import type { DoubleOptions, HomeAssistantDouble } from "./index.js";

const V = "2023.12.4";
const AUTH_REQUIRED = `{"type":"auth_required","ha_version":"${V}"}`;
const AUTH_OK = `{"type":"auth_ok","ha_version":"${V}"}`;
const AUTH_INVALID = `{"type":"auth_invalid","message":"Invalid access token or password"}`;

// ------------------------------------------------------------------ helpers

const doubles: HomeAssistantDouble[] = [];
const extraServers: Server[] = [];

async function double(opts: DoubleOptions = {}): Promise<HomeAssistantDouble> {
  const d = await startHomeAssistantDouble(opts);
  doubles.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
  await Promise.all(extraServers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

beforeAll(() => {
  // home-assistant-js-websocket needs a WebSocket global. Node 20 has one only with
  // --experimental-websocket (vitest.config.ts passes it); `ws` is the fallback.
  const g = globalThis as { WebSocket?: unknown };
  if (typeof g.WebSocket === "undefined") g.WebSocket = WebSocket;
});

const wsUrl = (d: HomeAssistantDouble) => `${d.url.replace(/^http/, "ws")}/api/websocket`;

interface WsClient {
  ws: WebSocket;
  received: string[];
  next(timeoutMs?: number): Promise<string>;
  send(o: unknown): void;
  closed: Promise<{ code: number }>;
}

function wrap(ws: WebSocket): WsClient {
  const received: string[] = [];
  const queue: string[] = [];
  const waiters: Array<(s: string) => void> = [];
  ws.on("message", (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    const s = isBinary ? `binary:${buf.toString("base64")}` : buf.toString("utf8");
    received.push(s);
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.on("close", (code) => resolve({ code })));
  ws.on("error", () => undefined);
  return {
    ws,
    received,
    closed,
    send: (o) => ws.send(typeof o === "string" ? o : JSON.stringify(o)),
    next: (timeoutMs = 2000) =>
      new Promise<string>((resolve, reject) => {
        const q = queue.shift();
        if (q !== undefined) return resolve(q);
        const t = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((s) => {
          clearTimeout(t);
          resolve(s);
        });
      }),
  };
}

function connect(d: HomeAssistantDouble, headers: Record<string, string> = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(d), { headers });
    const c = wrap(ws);
    ws.once("open", () => resolve(c));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

/** A handshake that must NOT become a WebSocket: returns the HTTP status and body. */
function handshakeError(d: HomeAssistantDouble, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(d), { headers });
    ws.on("error", () => undefined);
    ws.once("open", () => reject(new Error("handshake unexpectedly succeeded")));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
  });
}

/** auth phase: expects auth_required, sends the token, returns the answer frame. */
async function authenticate(d: HomeAssistantDouble, token: string): Promise<{ c: WsClient; answer: string }> {
  const c = await connect(d);
  expect(await c.next()).toBe(AUTH_REQUIRED);
  c.send({ type: "auth", access_token: token });
  return { c, answer: await c.next() };
}

async function expectAuthInvalid(d: HomeAssistantDouble, token: string, message = "Invalid access token or password") {
  const { c, answer } = await authenticate(d, token);
  expect(answer).toBe(JSON.stringify({ type: "auth_invalid", message }));
  expect((await c.closed).code).toBe(1000);
}

function api(d: HomeAssistantDouble, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${d.url}/api/`, { headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } });
}

function postForm(d: HomeAssistantDouble, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${d.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
    redirect: "manual",
  });
}

function jwtParts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; payloadText: string } {
  const [h, p] = token.split(".") as [string, string];
  const payloadText = Buffer.from(p, "base64url").toString("utf8");
  return { header: JSON.parse(Buffer.from(h, "base64url").toString("utf8")), payload: JSON.parse(payloadText), payloadText };
}

const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ tokens

describe("access tokens", () => {
  it("are HS256 JWTs {iss: refresh-token id, iat, exp} with a 1800 s lifetime; iss is not the user id", async () => {
    const d = await double();
    const u = d.addUser();
    expect(u.id).toMatch(/^[0-9a-f]{32}$/);
    const t = d.accessToken(u.id);
    const { header, payload, payloadText } = jwtParts(t);
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
    expect(payloadText).toMatch(/^\{"iss":"[0-9a-f]{32}","iat":\d+,"exp":\d+\}$/);
    expect(payload["iss"]).not.toBe(u.id);
    expect((payload["exp"] as number) - (payload["iat"] as number)).toBe(1800);
    const ll = jwtParts(d.longLivedToken(u.id)).payload;
    expect((ll["exp"] as number) - (ll["iat"] as number)).toBe(3650 * 86400);
    const rt = d.createRefreshToken(u.id);
    expect(rt.id).toMatch(/^[0-9a-f]{32}$/);
    expect(rt.token).toMatch(/^[0-9a-f]{128}$/);
  });

  it("are verified with 10 s leeway", async () => {
    const d = await double();
    const u = d.addUser();
    // expired 5 s ago: inside the leeway
    const inLeeway = d.accessToken(u.id, { issuedAt: now() - 1805, ttlSeconds: 1800 });
    expect((await api(d, inLeeway)).status).toBe(200);
    // expired 60 s ago
    const expired = d.accessToken(u.id, { issuedAt: now() - 1860, ttlSeconds: 1800 });
    expect((await api(d, expired)).status).toBe(401);
    // issued in the future beyond the leeway (PyJWT: ImmatureSignatureError)
    const future = d.accessToken(u.id, { issuedAt: now() + 60 });
    expect((await api(d, future)).status).toBe(401);
  });
});

// ------------------------------------------------------------------ WebSocket

describe("WebSocket /api/websocket", () => {
  it("auth_ok path and auth/current_user, frame for frame", async () => {
    const d = await double();
    const u = d.addUser({ id: "be4b440c8b354852a65ab9d42e9d77c4", name: "testuser" });
    const t = d.accessToken(u.id);
    const { c, answer } = await authenticate(d, t);
    expect(answer).toBe(AUTH_OK);
    c.send({ id: 1, type: "auth/current_user" });
    const result =
      '{"id":1,"type":"result","success":true,"result":{' +
      '"id":"be4b440c8b354852a65ab9d42e9d77c4","name":"testuser",' +
      '"is_owner":false,"is_admin":true,' +
      '"credentials":[{"auth_provider_type":"homeassistant","auth_provider_id":null}],' +
      '"mfa_modules":[{"id":"totp","name":"Authenticator app","enabled":false}]}}';
    expect(await c.next()).toBe(result);
    expect(d.stats.frames).toEqual([
      { conn: 1, dir: "out", data: AUTH_REQUIRED },
      { conn: 1, dir: "in", data: JSON.stringify({ type: "auth", access_token: t }) },
      { conn: 1, dir: "out", data: AUTH_OK },
      { conn: 1, dir: "in", data: '{"id":1,"type":"auth/current_user"}' },
      { conn: 1, dir: "out", data: result },
    ]);
    expect(d.stats).toMatchObject({ wsConnections: 1, authMessages: 1, authOk: 1, authInvalid: 0, currentUserRequests: 1 });
    c.ws.close();
  });

  it("expired, revoked, forged and garbage tokens all get the same auth_invalid, then close 1000", async () => {
    const d = await double();
    const u = d.addUser();
    await expectAuthInvalid(d, d.accessToken(u.id, { issuedAt: now() - 4000 }));
    const revoked = d.accessToken(u.id);
    d.revokeRefreshToken(jwtParts(revoked).payload["iss"] as string);
    await expectAuthInvalid(d, revoked);
    // right iss, wrong key
    const good = d.accessToken(u.id);
    const [h, p] = good.split(".");
    await expectAuthInvalid(d, `${h}.${p}.${Buffer.alloc(32, 7).toString("base64url")}`);
    await expectAuthInvalid(d, "garbage");
    await expectAuthInvalid(d, "");
    expect(d.stats.authInvalid).toBe(5);
    expect(d.stats.failedLogins("127.0.0.1")).toBe(5);
    expect(d.stats.frames.filter((f) => f.dir === "out").map((f) => f.data)).toEqual(
      Array.from({ length: 5 }, () => [AUTH_REQUIRED, AUTH_INVALID]).flat(),
    );
    expect(d.stats.closes.every((cl) => cl.by === "server" && cl.code === 1000)).toBe(true);
  });

  it("deactivated user: HA source answers the generic message (notes' 'User is not active' is opt-in)", async () => {
    // HA source: AuthManager.async_validate_access_token() returns None for an inactive
    // user before async_user_not_allowed_do_auth() is reached, so the WS message is the
    // generic one. The notes say "User is not active"; the option reproduces that.
    const d = await double();
    const u = d.addUser();
    const t = d.accessToken(u.id);
    d.setUserActive(u.id, false);
    await expectAuthInvalid(d, t);
    expect((await api(d, t)).status).toBe(401);
    d.setUserActive(u.id, true);
    expect((await authenticate(d, t)).answer).toBe(AUTH_OK);

    const d2 = await double({ inactiveUserWsMessage: "User is not active" });
    const u2 = d2.addUser();
    const t2 = d2.accessToken(u2.id);
    d2.setUserActive(u2.id, false);
    await expectAuthInvalid(d2, t2, "User is not active");
    expect(d2.stats.failedLogins()).toBe(1);
  });

  it("local-only user, 2023.12: WebSocket auth ignores local_only (auth_ok from a remote address too); REST refuses it remotely", async () => {
    const local = await double();
    const u = local.addUser({ local_only: true });
    expect((await authenticate(local, local.accessToken(u.id))).answer).toBe(AUTH_OK);

    const remote = await double({ clientsAreRemote: true });
    const r = remote.addUser({ local_only: true });
    const t = remote.accessToken(r.id);
    expect((await authenticate(remote, t)).answer).toBe(AUTH_OK);
    expect(remote.stats.failedLogins()).toBe(0);
    expect((await api(remote, t)).status).toBe(401); // HA: http/auth.py async_user_not_allowed_do_auth
    expect(remote.stats.failedLogins()).toBe(1);
  });

  it("2026.5 behaviour: inactive and remote local-only users get auth_invalid with a translation key, each a failed login", async () => {
    // (haVersion kept at V so that the helpers' frames match; the behaviour alone differs)
    const remote = await double({ behaviour: "2026.5", clientsAreRemote: true, haVersion: V });
    const localOnly = remote.addUser({ local_only: true });
    const { c, answer } = await authenticate(remote, remote.accessToken(localOnly.id));
    expect(answer).toBe('{"type":"auth_invalid","message":"user_cannot_authenticate_remotely"}');
    expect((await c.closed).code).toBe(1000);
    const gone = remote.addUser();
    const goneToken = remote.accessToken(gone.id);
    remote.setUserActive(gone.id, false);
    await expectAuthInvalid(remote, goneToken, "user_not_active");
    expect(remote.stats.failedLogins()).toBe(2);
    const normal = remote.addUser();
    expect((await authenticate(remote, remote.accessToken(normal.id))).answer).toBe(AUTH_OK);
    expect(remote.stats.failedLogins()).toBe(0); // the auth_ok reset the count

    const local = await double({ behaviour: "2026.5", haVersion: V });
    const l = local.addUser({ local_only: true });
    expect((await authenticate(local, local.accessToken(l.id))).answer).toBe(AUTH_OK);
  });

  it("config/auth/list: the user list with local_only for administrators, unauthorized for others", async () => {
    const d = await double();
    const admin = d.addUser({ id: "aa".repeat(16), name: "Admin", username: "admin", is_admin: true, is_owner: true });
    const plain = d.addUser({ id: "bb".repeat(16), name: "Kid", username: "kid", is_admin: false, local_only: true });
    const { c } = await authenticate(d, d.longLivedToken(admin.id));
    c.send({ id: 1, type: "config/auth/list" });
    expect(JSON.parse(await c.next())).toEqual({
      id: 1,
      type: "result",
      success: true,
      result: [
        { id: admin.id, username: "admin", name: "Admin", is_owner: true, is_active: true, local_only: false, system_generated: false, group_ids: ["system-admin"], credentials: [{ type: "homeassistant" }] },
        { id: plain.id, username: "kid", name: "Kid", is_owner: false, is_active: true, local_only: true, system_generated: false, group_ids: ["system-users"], credentials: [{ type: "homeassistant" }] },
      ],
    });
    c.ws.close();
    const { c: c2 } = await authenticate(d, d.accessToken(plain.id));
    c2.send({ id: 1, type: "config/auth/list" });
    expect(await c2.next()).toBe('{"id":1,"type":"result","success":false,"error":{"code":"unauthorized","message":"Unauthorized"}}');
    c2.ws.close();
    expect(d.stats.userListRequests).toBe(2);
  });

  it("auth/current_user: an owner is always is_admin (HA's User.is_admin); a user deactivated since auth_ok gets only_active_user", async () => {
    const d = await double();
    const owner = d.addUser({ is_owner: true, is_admin: false });
    let { c } = await authenticate(d, d.accessToken(owner.id));
    c.send({ id: 1, type: "auth/current_user" });
    expect(JSON.parse(await c.next()).result).toMatchObject({ is_owner: true, is_admin: true });
    c.send({ id: 2, type: "config/auth/list" }); // @require_admin lets the owner in
    expect(JSON.parse(await c.next())).toMatchObject({ id: 2, success: true });
    c.ws.close();

    const u = d.addUser();
    ({ c } = await authenticate(d, d.accessToken(u.id)));
    d.setUserActive(u.id, false); // the connection stays open (HA closes it only when a refresh token goes)
    c.send({ id: 1, type: "auth/current_user" });
    expect(await c.next()).toBe(
      '{"id":1,"type":"result","success":false,"error":{"code":"only_active_user","message":"Only allowed as active user"}}',
    );
    c.ws.close();
  });

  it("ids must increase (id_reuse); unknown commands do not consume an id; malformed messages", async () => {
    const d = await double();
    const u = d.addUser();
    const { c } = await authenticate(d, d.accessToken(u.id));
    c.send({ id: 5, type: "ping" });
    expect(await c.next()).toBe('{"id":5,"type":"pong"}');
    c.send({ id: 5, type: "auth/current_user" });
    expect(await c.next()).toBe(
      '{"id":5,"type":"result","success":false,"error":{"code":"id_reuse","message":"Identifier values have to increase."}}',
    );
    c.send({ id: 3, type: "ping" });
    expect(await c.next()).toBe(
      '{"id":3,"type":"result","success":false,"error":{"code":"id_reuse","message":"Identifier values have to increase."}}',
    );
    c.send({ id: 6, type: "no_such_command" });
    expect(await c.next()).toBe(
      '{"id":6,"type":"result","success":false,"error":{"code":"unknown_command","message":"Unknown command."}}',
    );
    // HA: last_id is only advanced by known commands, so 6 is still free
    c.send({ id: 6, type: "ping" });
    expect(await c.next()).toBe('{"id":6,"type":"pong"}');
    c.send({ id: 0, type: "ping" });
    expect(await c.next()).toBe(
      '{"id":0,"type":"result","success":false,"error":{"code":"invalid_format","message":"Message incorrectly formatted."}}',
    );
    c.send({ type: "ping" });
    expect(await c.next()).toBe(
      '{"id":null,"type":"result","success":false,"error":{"code":"invalid_format","message":"Message incorrectly formatted."}}',
    );
    c.send({ id: 7, type: "auth/current_user", extra: 1 });
    expect(await c.next()).toBe(
      `{"id":7,"type":"result","success":false,"error":{"code":"invalid_format","message":"extra keys not allowed @ data['extra']. Got 1"}}`,
    );
    // a JSON array is a batch of messages
    c.send([{ id: 8, type: "ping" }, { id: 9, type: "ping" }]);
    expect([await c.next(), await c.next()]).toEqual(['{"id":8,"type":"pong"}', '{"id":9,"type":"pong"}']);
    c.ws.close();
  });

  it("a first message that is not an auth message gets HA's schema error (not counted), non-JSON just closes", async () => {
    const d = await double();
    let c = await connect(d);
    expect(await c.next()).toBe(AUTH_REQUIRED);
    c.send({ id: 1, type: "auth/current_user" });
    expect(await c.next()).toBe(
      JSON.stringify({
        type: "auth_invalid",
        message:
          "Auth message incorrectly formatted: extra keys not allowed @ data['id']. Got 1\n" +
          "not a valid value for dictionary value @ data['type']. Got 'auth/current_user'",
      }),
    );
    expect((await c.closed).code).toBe(1000);
    // HA source: the schema-error path raises Disconnect without process_wrong_login
    expect(d.stats.failedLogins()).toBe(0);

    c = await connect(d);
    expect(await c.next()).toBe(AUTH_REQUIRED);
    c.send("this is not json");
    expect((await c.closed).code).toBe(1000);
    expect(c.received).toEqual([AUTH_REQUIRED]);
    expect(d.stats.failedLogins()).toBe(0);
  });

  it("drops a connection that sends no auth message within authTimeoutMs (close 1000, not counted)", async () => {
    const d = await double({ authTimeoutMs: 150 });
    const c = await connect(d);
    const t0 = Date.now();
    expect(await c.next()).toBe(AUTH_REQUIRED);
    expect((await c.closed).code).toBe(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(120);
    expect(c.received).toEqual([AUTH_REQUIRED]);
    expect(d.stats.failedLogins()).toBe(0);
  });

  it("revoking the refresh token closes live connections authenticated with it", async () => {
    const d = await double();
    const u = d.addUser();
    const rt = d.createRefreshToken(u.id, `${d.url}/`);
    const tok = (await (await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: rt.token, client_id: `${d.url}/` })).json()) as { access_token: string };
    const { c, answer } = await authenticate(d, tok.access_token);
    expect(answer).toBe(AUTH_OK);
    d.revokeRefreshToken(rt.token);
    expect((await c.closed).code).toBe(1000);
  });

  it("works with the real home-assistant-js-websocket client", async () => {
    const d = await double();
    const u = d.addUser({ name: "Ada" });
    const conn = await createConnection({ auth: createLongLivedTokenAuth(d.url, d.longLivedToken(u.id)) });
    try {
      expect(conn.haVersion).toBe(V);
      const user = await getUser(conn);
      expect(user).toEqual({
        id: u.id,
        name: "Ada",
        is_owner: false,
        is_admin: true,
        credentials: [{ auth_provider_type: "homeassistant", auth_provider_id: null }],
        mfa_modules: [{ id: "totp", name: "Authenticator app", enabled: false }],
      });
      const entities = await new Promise<HassEntities>((resolve) => {
        const unsub = subscribeEntities(conn, (e) => {
          unsub();
          resolve(e);
        });
      });
      expect(entities).toEqual({});
      await conn.ping();
      // the library opts in to coalescing with id 1; the double answers with a null result
      const out = d.stats.frames.filter((f) => f.dir === "out").map((f) => f.data);
      expect(d.stats.frames[3]?.data).toBe('{"type":"supported_features","id":1,"features":{"coalesce_messages":1}}');
      expect(out).toContain('{"id":1,"type":"result","success":true,"result":null}');
    } finally {
      conn.close();
    }
    await expect(
      createConnection({ auth: createLongLivedTokenAuth(d.url, "not-a-token") }),
    ).rejects.toBe(ERR_INVALID_AUTH);
  });
});

// ------------------------------------------------------------------ REST

describe("REST /api/", () => {
  it("200 JSON with a valid Bearer token; 401 plain text otherwise; only Bearer", async () => {
    const d = await double();
    const u = d.addUser();
    const t = d.accessToken(u.id);
    const ok = await api(d, t);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/json");
    expect(await ok.text()).toBe('{"message":"API running."}');
    for (const headers of <Array<Record<string, string>>>[{}, { Authorization: "Bearer nope" }, { Authorization: `Basic ${t}` }, { Authorization: `bearer ${t}` }]) {
      const r = await fetch(`${d.url}/api/`, { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await r.text()).toBe("401: Unauthorized");
    }
    expect(d.stats.failedLogins("127.0.0.1")).toBe(4);
    expect(d.stats.restRequests).toBe(5);
    expect(d.stats.requests[0]?.headers["authorization"]).toBe(`Bearer ${t}`);
  });

  it("X-Forwarded-For from an untrusted peer -> 400 '400: Bad Request' (not counted), WS handshake too", async () => {
    const d = await double();
    const u = d.addUser();
    const r = await api(d, d.accessToken(u.id), { "X-Forwarded-For": "203.0.113.7" });
    expect(r.status).toBe(400);
    expect(await r.text()).toBe("400: Bad Request");
    expect(await handshakeError(d, { "X-Forwarded-For": "203.0.113.7" })).toEqual({ status: 400, body: "400: Bad Request" });
    expect(d.stats.failedLogins()).toBe(0);
    expect(d.stats.restRequests).toBe(1);
    expect(d.stats.requests[0]?.headers["x-forwarded-for"]).toBe("203.0.113.7");
  });
});

// ------------------------------------------------------------------ failed logins & bans

describe("failed logins and IP bans", () => {
  it("counts 401s, auth_invalid and invalid_grant; bans at the threshold: 403 on REST and WS handshake", async () => {
    const d = await double({ loginAttemptsThreshold: 3 });
    const u = d.addUser();
    const t = d.accessToken(u.id);
    expect((await api(d)).status).toBe(401);
    await expectAuthInvalid(d, "bad");
    const g = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: "nope", client_id: `${d.url}/` });
    expect(g.status).toBe(400);
    expect(await g.text()).toBe('{"error":"invalid_grant"}');
    expect(d.stats.failedLogins("127.0.0.1")).toBe(3);
    expect(d.stats.bannedAddresses()).toEqual(["127.0.0.1"]);
    // even a valid token is refused now
    const banned = await api(d, t);
    expect(banned.status).toBe(403);
    expect(await banned.text()).toBe("403: Forbidden");
    expect(await handshakeError(d)).toEqual({ status: 403, body: "403: Forbidden" });
    d.resetStats();
    expect(d.stats.bannedAddresses()).toEqual(["127.0.0.1"]); // resetStats does not unban
    expect((await api(d, t)).status).toBe(403);
    d.unbanAll();
    expect((await api(d, t)).status).toBe(200);
  });

  it("counts per source address, consecutively: 127.0.0.2 is banned at the threshold, 127.0.0.1 is not; auth_ok resets only its own address", async () => {
    const d = await double({ loginAttemptsThreshold: 3 });
    const u = d.addUser();
    const fromAddress = (localAddress: string, token: string) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(wsUrl(d), { localAddress });
        const c = wrap(ws);
        ws.once("unexpected-response", (_req, res) => {
          resolve(`HTTP ${res.statusCode}`);
          ws.terminate();
        });
        ws.once("error", reject);
        ws.once("open", async () => {
          await c.next();
          c.send({ type: "auth", access_token: token });
          resolve(await c.next());
          ws.close();
        });
      });
    expect(await fromAddress("127.0.0.2", "bad")).toBe(AUTH_INVALID);
    expect(await fromAddress("127.0.0.2", "bad")).toBe(AUTH_INVALID);
    expect(await fromAddress("127.0.0.1", "bad")).toBe(AUTH_INVALID);
    expect(d.stats.failedLoginCounts()).toEqual({ "127.0.0.2": 2, "127.0.0.1": 1 });
    // An auth_ok from 127.0.0.1 resets 127.0.0.1 only.
    expect(await fromAddress("127.0.0.1", d.accessToken(u.id))).toBe(AUTH_OK);
    expect(d.stats.failedLoginCounts()).toEqual({ "127.0.0.2": 2 });
    expect(await fromAddress("127.0.0.2", "bad")).toBe(AUTH_INVALID);
    expect(d.stats.bannedAddresses()).toEqual(["127.0.0.2"]);
    // Banned for good: even a valid token's handshake is refused, from that address only.
    expect(await fromAddress("127.0.0.2", d.accessToken(u.id))).toBe("HTTP 403");
    expect(await fromAddress("127.0.0.1", d.accessToken(u.id))).toBe(AUTH_OK);
    expect(d.stats.failedLoginEvents).toHaveLength(4);
  });

  it("a WS auth_invalid is counted after the frame and before the close (HA awaits process_wrong_login in between)", async () => {
    const d = await double({ loginAttemptsThreshold: 1, failedLoginDelayMs: 300 });
    const { c, answer } = await authenticate(d, "bad");
    expect(answer).toBe(AUTH_INVALID);
    // The frame is out; the count and the ban are not there yet, nor is the close.
    expect(d.stats.failedLogins()).toBe(0);
    expect(d.stats.bannedAddresses()).toEqual([]);
    const t0 = Date.now();
    expect((await c.closed).code).toBe(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    // By the close, both have landed.
    expect(d.stats.failedLogins()).toBe(1);
    expect(d.stats.bannedAddresses()).toEqual(["127.0.0.1"]);
  });

  it("a successful WS auth resets the counter, a successful REST request does not", async () => {
    const d = await double({ loginAttemptsThreshold: 5 });
    const u = d.addUser();
    const t = d.accessToken(u.id);
    await api(d);
    await api(d, "bad");
    expect(d.stats.failedLogins()).toBe(2);
    expect((await api(d, t)).status).toBe(200);
    expect(d.stats.failedLogins()).toBe(2);
    const { answer } = await authenticate(d, t);
    expect(answer).toBe(AUTH_OK);
    expect(d.stats.failedLogins()).toBe(0);
    expect(d.stats.failedLoginEvents).toHaveLength(2); // the history is kept
  });
});

// ------------------------------------------------------------------ OAuth

describe("OAuth endpoints", () => {
  async function login(d: HomeAssistantDouble, q: Record<string, string>, username: string, password: string) {
    return postForm(d, "/auth/login_flow_double", { ...q, username, password });
  }

  it("authorize page, wrong password, code exchange, code reuse, refresh, invalid_grant, revoke", async () => {
    const d = await double();
    const u = d.addUser({ username: "ada", password: "s3cret" });
    const clientId = "http://127.0.0.1:4000/";
    const redirectUri = "http://127.0.0.1:4000/cb?x=1";
    const q = { response_type: "code", client_id: clientId, redirect_uri: redirectUri, state: "st/ate 1" };
    const page = await fetch(`${d.url}/auth/authorize?${new URLSearchParams(q)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="username"');
    expect(html).toContain('id="password"');
    expect(html).toMatch(/<button type="submit">Log in<\/button>/);

    const wrong = await login(d, q, "ada", "nope");
    expect(wrong.status).toBe(200);
    expect(await wrong.text()).toContain("Invalid username or password");
    expect(d.stats.failedLogins()).toBe(1);

    const ok = await login(d, q, "ada", "s3cret");
    expect(ok.status).toBe(302);
    const loc = new URL(ok.headers.get("location") ?? "");
    expect(`${loc.origin}${loc.pathname}`).toBe("http://127.0.0.1:4000/cb");
    expect(loc.searchParams.get("x")).toBe("1");
    expect(loc.searchParams.get("state")).toBe("st/ate 1");
    const code = loc.searchParams.get("code") ?? "";
    expect(code).toMatch(/^[0-9a-f]{32}$/);
    expect(ok.headers.get("location")).toMatch(/\/cb\?x=1&code=[0-9a-f]{32}&state=st%2Fate%201$/);
    expect(d.stats.failedLogins()).toBe(0); // a successful login resets (process_success_login)

    // code bound to client_id
    const otherClient = await postForm(d, "/auth/token", { grant_type: "authorization_code", code, client_id: "http://127.0.0.1:4001/" });
    expect(otherClient.status).toBe(400);
    const tok = await postForm(d, "/auth/token", { grant_type: "authorization_code", code, client_id: clientId });
    // the failed attempt above consumed nothing: HA keys codes by (client_id, code)
    expect(tok.status).toBe(200);
    expect(tok.headers.get("cache-control")).toBe("no-store");
    const text = await tok.text();
    expect(text).toMatch(
      /^\{"access_token":"[^"]+","token_type":"Bearer","refresh_token":"[0-9a-f]{128}","expires_in":1800,"ha_auth_provider":"homeassistant"\}$/,
    );
    const body = JSON.parse(text) as { access_token: string; refresh_token: string };
    expect((await authenticate(d, body.access_token)).answer).toBe(AUTH_OK);

    const reuse = await postForm(d, "/auth/token", { grant_type: "authorization_code", code, client_id: clientId });
    expect(reuse.status).toBe(400);
    expect(await reuse.text()).toBe('{"error":"invalid_request","error_description":"Invalid code"}');

    const ref = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: body.refresh_token, client_id: clientId });
    expect(ref.status).toBe(200);
    const refText = await ref.text();
    expect(refText).toMatch(/^\{"access_token":"[^"]+","token_type":"Bearer","expires_in":1800\}$/);
    expect((await api(d, (JSON.parse(refText) as { access_token: string }).access_token)).status).toBe(200);

    const wrongClient = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: body.refresh_token, client_id: "http://127.0.0.1:4001/" });
    expect(wrongClient.status).toBe(400);
    expect(await wrongClient.text()).toBe('{"error":"invalid_request"}');

    const rev = await postForm(d, "/auth/revoke", { token: body.refresh_token });
    expect(rev.status).toBe(200);
    expect(await rev.text()).toBe("");
    expect((await postForm(d, "/auth/revoke", { token: "unknown" })).status).toBe(200);
    const after = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: body.refresh_token, client_id: clientId });
    expect(after.status).toBe(400);
    expect(await after.text()).toBe('{"error":"invalid_grant"}');
    await expectAuthInvalid(d, body.access_token);
    expect(u.username).toBe("ada");
  });

  it("validates client_id and redirect_uri (same scheme+host+port, or <link rel=redirect_uri> on a loopback client page)", async () => {
    const d = await double();
    d.addUser({ username: "ada", password: "pw" });
    const page = (q: Record<string, string>) => fetch(`${d.url}/auth/authorize?${new URLSearchParams({ response_type: "code", ...q })}`);
    expect((await page({ client_id: "ftp://127.0.0.1/", redirect_uri: "ftp://127.0.0.1/cb" })).status).toBe(400);
    expect((await page({ client_id: "https://app.example/", redirect_uri: "https://evil.example/cb" })).status).toBe(400);
    expect((await page({ client_id: "https://app.example/", redirect_uri: "https://app.example/cb" })).status).toBe(200);

    const client = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<html><head><link rel="redirect_uri" href="http://127.0.0.1:1/done"></head></html>');
    });
    extraServers.push(client);
    await new Promise<void>((r) => client.listen(0, "127.0.0.1", r));
    const port = (client.address() as { port: number }).port;
    const clientId = `http://127.0.0.1:${port}/`;
    expect((await page({ client_id: clientId, redirect_uri: "http://127.0.0.1:1/done" })).status).toBe(200);
    expect((await page({ client_id: clientId, redirect_uri: "http://127.0.0.1:1/other" })).status).toBe(400);
    const ok = await login(d, { client_id: clientId, redirect_uri: "http://127.0.0.1:1/done", state: "" }, "ada", "pw");
    expect(ok.status).toBe(302);
    expect(ok.headers.get("location")).toMatch(/^http:\/\/127\.0\.0\.1:1\/done\?code=[0-9a-f]{32}$/);
  });

  it("inactive user: login blocked, code exchange and refresh -> 403 access_denied 'User is not active'", async () => {
    const d = await double();
    const u = d.addUser({ username: "bob", password: "pw" });
    const clientId = `${d.url}/`;
    const q = { client_id: clientId, redirect_uri: `${d.url}/?auth_callback=1`, state: "" };
    const ok = await login(d, q, "bob", "pw");
    const code = new URL(ok.headers.get("location") ?? "").searchParams.get("code") ?? "";
    const rt = d.createRefreshToken(u.id, clientId);
    d.setUserActive(u.id, false);
    const ex = await postForm(d, "/auth/token", { grant_type: "authorization_code", code, client_id: clientId });
    expect(ex.status).toBe(403);
    expect(await ex.text()).toBe('{"error":"access_denied","error_description":"User is not active"}');
    const ref = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: rt.token, client_id: clientId });
    expect(ref.status).toBe(403);
    expect(await ref.text()).toBe('{"error":"access_denied","error_description":"User is not active"}');
    const blocked = await login(d, q, "bob", "pw");
    expect(blocked.status).toBe(403);
    expect(await blocked.text()).toContain("Login blocked: User is not active");
    expect(d.stats.failedLogins()).toBe(3);
  });

  it("the JSON /auth/login_flow API hands out codes like the real frontend uses", async () => {
    const d = await double();
    d.addUser({ username: "ada", password: "pw" });
    const clientId = `${d.url}/`;
    const post = (path: string, b: unknown) =>
      fetch(`${d.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
    const flow = (await (await post("/auth/login_flow", { client_id: clientId, handler: ["homeassistant", null], redirect_uri: `${d.url}/?auth_callback=1` })).json()) as { flow_id: string; type: string; data_schema: unknown };
    expect(flow.type).toBe("form");
    const bad = (await (await post(`/auth/login_flow/${flow.flow_id}`, { client_id: clientId, username: "ada", password: "x" })).json()) as { errors: unknown };
    expect(bad.errors).toEqual({ base: "invalid_auth" });
    const done = (await (await post(`/auth/login_flow/${flow.flow_id}`, { client_id: clientId, username: "ada", password: "pw" })).json()) as { type: string; result: string };
    expect(done.type).toBe("create_entry");
    const tok = await postForm(d, "/auth/token", { grant_type: "authorization_code", code: done.result, client_id: clientId });
    expect(tok.status).toBe(200);
  });
});

// ------------------------------------------------------------------ CORS

describe("CORS", () => {
  it("configured origins on /api/*, any origin on /auth/token and /auth/revoke, preflights", async () => {
    const d = await double({ corsAllowedOrigins: ["https://allowed.example"] });
    const u = d.addUser();
    const t = d.accessToken(u.id);
    const allowed = await api(d, t, { Origin: "https://allowed.example" });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://allowed.example");
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull();
    const denied401 = await api(d, undefined, { Origin: "https://allowed.example" });
    expect(denied401.status).toBe(401);
    expect(denied401.headers.get("access-control-allow-origin")).toBe("https://allowed.example");
    const other = await api(d, t, { Origin: "https://other.example" });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const pre = await fetch(`${d.url}/api/`, {
      method: "OPTIONS",
      headers: { Origin: "https://allowed.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
    });
    expect(pre.status).toBe(200);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://allowed.example");
    expect(pre.headers.get("access-control-allow-methods")).toBe("GET");
    expect(pre.headers.get("access-control-allow-headers")).toBe("AUTHORIZATION");
    const preOther = await fetch(`${d.url}/api/`, {
      method: "OPTIONS",
      headers: { Origin: "https://other.example", "Access-Control-Request-Method": "GET" },
    });
    expect(preOther.status).toBe(403);
    expect(preOther.headers.get("access-control-allow-origin")).toBeNull();
    expect(await preOther.text()).toBe("CORS preflight request failed: origin 'https://other.example' is not allowed");

    // HA source: TokenView and RevokeTokenView are cors_allowed=True -> every origin
    const token = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: "x" }, { Origin: "https://other.example" });
    expect(token.headers.get("access-control-allow-origin")).toBe("https://other.example");
    const revoke = await postForm(d, "/auth/revoke", { token: "x" }, { Origin: "https://other.example" });
    expect(revoke.headers.get("access-control-allow-origin")).toBe("https://other.example");
    const tokenPre = await fetch(`${d.url}/auth/token`, {
      method: "OPTIONS",
      headers: { Origin: "https://other.example", "Access-Control-Request-Method": "POST" },
    });
    expect(tokenPre.status).toBe(200);
    expect(tokenPre.headers.get("access-control-allow-origin")).toBe("https://other.example");
  });

  it("defaults to HA's default cors_allowed_origins (https://cast.home-assistant.io)", async () => {
    const d = await double();
    const r = await api(d, undefined, { Origin: "https://cast.home-assistant.io" });
    expect(r.headers.get("access-control-allow-origin")).toBe("https://cast.home-assistant.io");
  });
});

// ------------------------------------------------------------------ faults

describe("faults", () => {
  it("hang: accepts connections but never answers HTTP or the WS handshake", async () => {
    const d = await double();
    const u = d.addUser();
    d.setFault({ kind: "hang" });
    await expect(fetch(`${d.url}/api/`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    const ws = new WebSocket(wsUrl(d));
    ws.on("error", () => undefined);
    const opened = await Promise.race([
      new Promise<boolean>((r) => ws.once("open", () => r(true))),
      sleep(300).then(() => false),
    ]);
    expect(opened).toBe(false);
    ws.terminate();
    expect(d.stats.requests.length).toBe(2); // both requests arrived
    d.setFault({ kind: "none" });
    expect((await api(d, d.accessToken(u.id))).status).toBe(200);
  });

  it("hang on an open connection: frames are swallowed", async () => {
    const d = await double();
    const u = d.addUser();
    const c = await connect(d);
    expect(await c.next()).toBe(AUTH_REQUIRED);
    d.setFault({ kind: "hang" });
    c.send({ type: "auth", access_token: d.accessToken(u.id) });
    await expect(c.next(300)).rejects.toThrow(/no frame/);
    c.ws.terminate();
  });

  it("slow: every HTTP answer and every WS frame is delayed", async () => {
    const d = await double();
    const u = d.addUser();
    const t = d.accessToken(u.id);
    d.setFault({ kind: "slow", delayMs: 250 });
    let t0 = Date.now();
    const r = await api(d, t);
    expect(r.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    t0 = Date.now();
    const c = await connect(d); // 101 delayed
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    t0 = Date.now();
    expect(await c.next()).toBe(AUTH_REQUIRED);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    t0 = Date.now();
    c.send({ type: "auth", access_token: t });
    expect(await c.next()).toBe(AUTH_OK);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    c.ws.close();
  });

  it("close_mid_handshake: auth_required, then the socket is destroyed when auth arrives", async () => {
    const d = await double();
    const u = d.addUser();
    d.setFault({ kind: "close_mid_handshake" });
    const c = await connect(d);
    expect(await c.next()).toBe(AUTH_REQUIRED);
    c.send({ type: "auth", access_token: d.accessToken(u.id) });
    expect((await c.closed).code).toBe(1006); // no close frame
    expect(c.received).toEqual([AUTH_REQUIRED]);
  });

  it("garbage: non-JSON and wrong frames instead of the protocol, never closes", async () => {
    const d = await double();
    const u = d.addUser();
    d.setFault({ kind: "garbage" });
    const c = await connect(d);
    const first = await c.next();
    expect(() => JSON.parse(first)).toThrow();
    c.send({ type: "auth", access_token: d.accessToken(u.id) });
    const frames = [await c.next(), await c.next(), await c.next(), await c.next(), await c.next()];
    expect(frames).toEqual([
      "garbage: not json {",
      `binary:${Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString("base64")}`,
      "[1,2,3]",
      `{"type":"auth_maybe","ha_version":"${V}"}`,
      '{"id":1,"type":"result","success":true,"result":null}',
    ]);
    expect(frames).not.toContain(AUTH_OK);
    expect(d.stats.authOk).toBe(0);
    c.ws.close();
  });

  it("http_500: every HTTP request and the WS handshake get 500", async () => {
    const d = await double();
    const u = d.addUser();
    d.setFault({ kind: "http_500" });
    const r = await api(d, d.accessToken(u.id));
    expect(r.status).toBe(500);
    // aiohttp's text for an unhandled exception
    expect(await r.text()).toBe("500 Internal Server Error\n\nServer got itself in trouble");
    const t = await postForm(d, "/auth/token", { grant_type: "refresh_token", refresh_token: "x" });
    expect(t.status).toBe(500);
    expect(d.stats).toMatchObject({ restRequests: 1, tokenRequests: 1 });
    const hs = await handshakeError(d);
    expect(hs.status).toBe(500);
    expect(hs.body.startsWith("500 Internal Server Error")).toBe(true);
    expect(d.stats.failedLogins()).toBe(0);
  });

  it("stop(): connection refused and open sockets destroyed; start(): same port, same state", async () => {
    const d = await double();
    const u = d.addUser();
    const t = d.accessToken(u.id);
    const port = d.port;
    const { c } = await authenticate(d, t);
    await d.stop();
    expect((await c.closed).code).toBe(1006);
    const err = (await fetch(`${d.url}/api/`).catch((e: unknown) => e)) as { cause?: { code?: string } };
    expect(err.cause?.code).toBe("ECONNREFUSED");
    await d.start();
    expect(d.port).toBe(port);
    expect((await api(d, t)).status).toBe(200);
    expect((await authenticate(d, t)).answer).toBe(AUTH_OK);
  });

  it("a restart (stop/start) clears the in-memory failed-login counts, not the bans", async () => {
    const d = await double({ loginAttemptsThreshold: 2 });
    const u = d.addUser();
    await expectAuthInvalid(d, "bad");
    expect(d.stats.failedLogins("127.0.0.1")).toBe(1);
    await d.stop();
    await d.start();
    expect(d.stats.failedLogins("127.0.0.1")).toBe(0);
    await expectAuthInvalid(d, "bad"); // 1 of 2 again: not banned
    expect(d.stats.bannedAddresses()).toEqual([]);
    await expectAuthInvalid(d, "bad");
    expect(d.stats.bannedAddresses()).toEqual(["127.0.0.1"]);
    await d.stop();
    await d.start();
    expect(await handshakeError(d)).toEqual({ status: 403, body: "403: Forbidden" });
    expect((await api(d, d.accessToken(u.id))).status).toBe(403);
  });

  it("close() is immediate with open connections and hung requests", async () => {
    const d = await double();
    const u = d.addUser();
    const { c } = await authenticate(d, d.accessToken(u.id));
    d.setFault({ kind: "slow", delayMs: 5000 });
    const pending = fetch(`${d.url}/api/`).catch(() => "failed");
    await sleep(50);
    const t0 = Date.now();
    await d.close();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(await pending).toBe("failed");
    expect((await c.closed).code).toBe(1006);
  });

  it("close() leaves no timers or sockets behind", async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
    const sockets = () => process.getActiveResourcesInfo().filter((x) => x === "TCPSocketWrap" || x === "TCPServerWrap").length;
    const t0 = timeouts();
    const s0 = sockets();
    const d = await startHomeAssistantDouble({ authTimeoutMs: 60_000 });
    const c = await connect(d); // auth timer running
    expect(await c.next()).toBe(AUTH_REQUIRED);
    d.setFault({ kind: "slow", delayMs: 60_000 });
    const pending = fetch(`${d.url}/api/`).catch(() => "failed"); // delayed answer pending
    await sleep(50);
    expect(timeouts()).toBeGreaterThan(t0);
    await d.close();
    await c.closed;
    expect(await pending).toBe("failed");
    await sleep(20);
    expect(timeouts()).toBeLessThanOrEqual(t0);
    expect(sockets()).toBeLessThanOrEqual(s0);
  });
});
