/**
 * Home Assistant test double.
 *
 * Reproduces, frame for frame and status for status, what the project depends on
 * (see /work/shared/ha-protocol.md): access tokens, REST `/api/`, the WebSocket auth
 * phase and `auth/current_user`, the OAuth endpoints, failed-login counting and IP
 * bans, CORS, plus fault injection for the signer's failure paths.
 *
 * Behaviour was taken from home-assistant/core 2023.12 where the notes are silent
 * or disagree; every such place says so in a comment starting with "HA:" (what the
 * source does) or "DOUBLE:" (where the double knowingly differs).
 *
 * Summary of known differences from a real Home Assistant 2023.12.4:
 *  - DOUBLE: /auth/authorize serves a small HTML form instead of the frontend app
 *    (which drives /auth/login_flow). The form posts to /auth/login_flow_double.
 *    The real JSON /auth/login_flow API is implemented too (minimal, one provider).
 *    The token endpoints are not simplified.
 *  - DOUBLE: no permessage-deflate, no 55 s heartbeat pings, no gzip of JSON bodies,
 *    no `Server:` header, no persistent notifications, no ip_bans.yaml.
 *  - DOUBLE: WS ids that are JSON floats with an integral value (1.0) are accepted as
 *    ints (JSON.parse cannot tell); HA rejects them as "Message incorrectly formatted."
 *  - DOUBLE: only the commands listed in COMMANDS exist; anything else is
 *    `unknown_command` (HA has hundreds). Schema checks are done for those commands.
 */
import { createServer, STATUS_CODES } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { randomBytes, randomUUID } from "node:crypto";
import { WebSocketServer } from "ws";
import type { WebSocket, RawData } from "ws";
import { decodeUnverified, signHs256, verifyHs256 } from "./jwt.js";
import { humanizeError, isPlainObject, validateMapping } from "./voluptuous.js";
import type { MappingSchema } from "./voluptuous.js";
import { isLocalAddress, normalizeAddress, verifyClientId, verifyRedirectUri } from "./net.js";

// ======================================================================= public API

export interface DoubleUser {
  id: string /*32 hex*/;
  name: string;
  username: string;
  password: string;
  is_owner: boolean;
  /** In the "system-admin" group. What HA reports as is_admin is isAdmin(): an owner always is. */
  is_admin: boolean;
  is_active: boolean;
  local_only: boolean;
}

/**
 * Which Home Assistant the double answers as, where releases differ:
 * - "2023.12": WebSocket auth only validates the token. A local-only user's token gets
 *   auth_ok from any address (only REST and the login flow check local_only); a deactivated
 *   user's token gets the generic "Invalid access token or password".
 * - "2026.5": (core PR #168812) WebSocket auth also refuses an inactive user, and a local-only
 *   user from a non-local address, with auth_invalid whose message is a translation key
 *   ("user_not_active", "user_cannot_authenticate_remotely"); each is a failed login.
 *   DOUBLE: read in the 2026 sources, not run; the exact keys are those in the notes.
 */
export type DoubleBehaviour = "2023.12" | "2026.5";

export interface DoubleOptions {
  /** default "2023.12"; also sets the default haVersion ("2023.12.4" / "2026.5.0"). */
  behaviour?: DoubleBehaviour;
  haVersion?: string; // default "2023.12.4" (behaviour "2026.5": "2026.5.0")
  loginAttemptsThreshold?: number; // like http: login_attempts_threshold; default undefined = never ban
  /**
   * like http: cors_allowed_origins (CORS on /api/* and the other views).
   * HA: the default of cors_allowed_origins is ["https://cast.home-assistant.io"], so
   * that is the default here too. /auth/token and /auth/revoke are `cors_allowed = True`
   * views in HA and answer ANY origin, whatever this list says.
   */
  corsAllowedOrigins?: string[];
  authTimeoutMs?: number; // WS: drop a connection with no auth message; default 10_000
  clientsAreRemote?: boolean; // treat every peer as a non-local address (for local_only users); default false
  port?: number; // default 0 (random); stop()/start() reuse the same port
  host?: string; // default 127.0.0.1
  /**
   * Message sent in auth_invalid for a valid token of a DEACTIVATED user.
   * HA 2023.12: AuthManager.async_validate_access_token() returns None for an inactive
   * user, so the WebSocket answers the generic "Invalid access token or password"; the
   * "User is not active" branch of async_user_not_allowed_do_auth is unreachable for
   * WS auth (it is reachable on /auth/token and the login flow). The protocol notes say
   * "User is not active"; set this to "User is not active" to get that instead.
   */
  inactiveUserWsMessage?: string;
  /**
   * How long HA's process_wrong_login takes before it counts a WebSocket auth_invalid; default 0.
   * HA: websocket_api/auth.py sends auth_invalid, then awaits process_wrong_login (which first
   * resolves the address's host name with gethostbyaddr in an executor: slow when reverse DNS
   * is), then closes. So the count (and a ban at the threshold) lands after the auth_invalid
   * frame and before the close frame. DOUBLE: counted even if the client leaves first.
   */
  failedLoginDelayMs?: number;
  /**
   * Static pages served with GET at exactly these paths, from Home Assistant's own origin,
   * the way HA serves its frontend (used by the frontend tests' host pages). Mutable: a test
   * may add pages after start. Not part of Home Assistant's protocol.
   */
  pages?: Record<string, { contentType: string; body: string | Uint8Array }>;
}

export type Fault =
  | { kind: "none" }
  | { kind: "hang" } // accept TCP/HTTP/WS connections but never answer anything
  | { kind: "slow"; delayMs: number } // every HTTP answer and every WS frame sent after delayMs
  | { kind: "close_mid_handshake" } // WS: send auth_required, then destroy the socket when auth arrives
  | { kind: "garbage" } // WS: after upgrade send non-JSON text frames / wrong frames instead of protocol
  | { kind: "http_500" }; // every HTTP request (and WS upgrade) answered 500

export interface DoubleStats {
  wsConnections: number;
  /** Messages received in the WS auth phase (at most one per connection). */
  authMessages: number;
  authOk: number;
  authInvalid: number;
  currentUserRequests: number;
  /** config/auth/list commands (answered or refused as unauthorized). */
  userListRequests: number;
  /** HTTP requests to /api/* other than the WebSocket endpoint (counted on arrival, whatever the answer). */
  restRequests: number;
  /** POST /auth/token requests (counted on arrival). */
  tokenRequests: number;
  /** HA's consecutive failed-login count of an address (sum when omitted); a WS auth_ok from that address resets it. */
  failedLogins(address?: string): number;
  /** The same counts for every address that has one. */
  failedLoginCounts(): Record<string, number>;
  bannedAddresses(): string[];
  /** Every WS text frame sent and received on every connection in order (binary frames as "binary:<base64>"). */
  frames: Array<{ conn: number; dir: "in" | "out"; data: string }>;
  /** Header maps of every HTTP request received (lower-case names). `path` is the raw request target incl. query. */
  requests: Array<{ method: string; path: string; headers: Record<string, string> }>;
  /** Extra: every failed-login event (never reset by a successful login; reset by resetStats()). */
  failedLoginEvents: Array<{ address: string; reason: string }>;
  /** Extra: WS closes. by "server": close frame sent (code) or socket destroyed (1006); by "client": peer closed first. */
  closes: Array<{ conn: number; by: "server" | "client"; code: number }>;
}

export interface HomeAssistantDouble {
  readonly url: string; // "http://127.0.0.1:PORT"
  readonly port: number;
  addUser(u?: Partial<DoubleUser>): DoubleUser;
  /** Creates a refresh token (like a login) for the user and returns an access token for it. */
  accessToken(userId: string, opts?: { ttlSeconds?: number; issuedAt?: number /*unix s*/; clientId?: string }): string;
  longLivedToken(userId: string, days?: number): string;
  createRefreshToken(userId: string, clientId?: string): { id: string; token: string };
  revokeRefreshToken(tokenOrId: string): void;
  setUserActive(userId: string, active: boolean): void;
  setUserLocalOnly(userId: string, localOnly: boolean): void;
  setFault(f: Fault): void;
  readonly stats: DoubleStats;
  resetStats(): void;
  unbanAll(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startHomeAssistantDouble(opts: DoubleOptions = {}): Promise<HomeAssistantDouble> {
  const d = new Double(opts);
  await d.start();
  return d;
}

// ======================================================================= internals

const DEFAULT_HA_VERSION = "2023.12.4";
const ACCESS_TOKEN_EXPIRATION_S = 1800; // HA: ACCESS_TOKEN_EXPIRATION = timedelta(minutes=30)
const AUTH_CODE_LIFETIME_MS = 10 * 60 * 1000; // HA: codes expire after 10 minutes
const JWT_LEEWAY_S = 10;
const MSG_INVALID_AUTH = "Invalid access token or password";
const ALLOWED_CORS_HEADERS = ["ORIGIN", "ACCEPT", "X-REQUESTED-WITH", "CONTENT-TYPE", "AUTHORIZATION"];
const GARBAGE_TEXT = "<!DOCTYPE html><html><body>this is not the Home Assistant websocket API</body></html>";

interface RefreshTokenRec {
  id: string; // uuid4 hex
  token: string; // 128 hex
  jwtKey: string; // 128 hex
  userId: string;
  clientId: string | null;
  type: "normal" | "long_lived_access_token";
  accessTokenExpirationS: number;
  clientName: string | null;
}

interface WsConn {
  n: number;
  ws: WebSocket;
  remote: string;
  phase: "auth" | "command" | "closing";
  lastId: number;
  refreshTokenId?: string;
  userId?: string;
  authTimer?: NodeJS.Timeout;
  subscriptions: Set<number>;
  canCoalesce: boolean;
  serverClosed: boolean;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

interface ReqCtx {
  req: IncomingMessage;
  res: ServerResponse;
  remote: string;
  url: URL;
  method: string;
}

type CorsClass = "all" | "configured" | null;

function textReply(status: number, text?: string, headers: Record<string, string> = {}): Reply {
  // aiohttp HTTPException: body "<status>: <reason>", text/plain; charset=utf-8
  return {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    body: text ?? `${status}: ${STATUS_CODES[status] ?? ""}`,
  };
}

function jsonReply(status: number, obj: unknown, headers: Record<string, string> = {}): Reply {
  // HomeAssistantView.json: content_type="application/json", compact JSON (orjson)
  return { status, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(obj) };
}

function htmlReply(status: number, html: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { "content-type": "text/html; charset=utf-8", ...headers }, body: html };
}

function emptyReply(status = 200): Reply {
  // aiohttp web.Response(status=200) with no body
  return { status, headers: { "content-type": "application/octet-stream" }, body: "" };
}

/** aiohttp web_protocol.handle_error for an unhandled exception (HA 2023.12 ships aiohttp 3.9). */
function internalError(req: IncomingMessage): Reply {
  const title = "500 Internal Server Error";
  const msg = "Server got itself in trouble";
  if ((req.headers["accept"] ?? "").includes("text/html")) {
    return htmlReply(
      500,
      `<html><head><title>${title}</title></head><body>\n<h1>${title}</h1>\n${msg}\n</body></html>\n`,
      { connection: "close" },
    );
  }
  return textReply(500, `${title}\n\n${msg}`, { connection: "close" });
}

function uuidHex(): string {
  return randomUUID().replace(/-/g, "");
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function lowerHeaders(h: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

// --- WebSocket command schemas (HA: websocket_command decorators) ---
const CMD_SCHEMAS: Record<string, MappingSchema> = {
  "auth/current_user": { required: { id: { kind: "int" }, type: { kind: "literal", value: "auth/current_user" } } },
  "auth/long_lived_access_token": {
    required: {
      id: { kind: "int" },
      type: { kind: "literal", value: "auth/long_lived_access_token" },
      lifespan: { kind: "int" },
      client_name: { kind: "str" },
    },
    optional: { client_icon: { kind: "str" } },
  },
  supported_features: {
    required: {
      id: { kind: "int" },
      type: { kind: "literal", value: "supported_features" },
      features: { kind: "dict_str_int" },
    },
  },
  ping: { required: { id: { kind: "int" }, type: { kind: "literal", value: "ping" } } },
  "config/auth/list": { required: { id: { kind: "int" }, type: { kind: "literal", value: "config/auth/list" } } },
  get_states: { required: { id: { kind: "int" }, type: { kind: "literal", value: "get_states" } } },
  get_config: { required: { id: { kind: "int" }, type: { kind: "literal", value: "get_config" } } },
  get_services: { required: { id: { kind: "int" }, type: { kind: "literal", value: "get_services" } } },
  get_panels: { required: { id: { kind: "int" }, type: { kind: "literal", value: "get_panels" } } },
  subscribe_events: {
    required: { id: { kind: "int" }, type: { kind: "literal", value: "subscribe_events" } },
    optional: { event_type: { kind: "str" } },
  },
  unsubscribe_events: {
    required: {
      id: { kind: "int" },
      type: { kind: "literal", value: "unsubscribe_events" },
      subscription: { kind: "int" },
    },
  },
  subscribe_entities: {
    required: { id: { kind: "int" }, type: { kind: "literal", value: "subscribe_entities" } },
    optional: { entity_ids: { kind: "any" } },
  },
};

// HA: websocket_api/auth.py AUTH_MESSAGE_SCHEMA
const AUTH_SCHEMA: MappingSchema = {
  required: { type: { kind: "literal", value: "auth" } },
  optional: { api_password: { kind: "str" }, access_token: { kind: "str" } },
  exclusiveGroup: { name: "auth", keys: ["api_password", "access_token"] },
};

class Double implements HomeAssistantDouble {
  private readonly haVersion: string;
  private readonly behaviour: DoubleBehaviour;
  private readonly host: string;
  private readonly authTimeoutMs: number;
  private readonly corsOrigins: string[];
  private portNum: number;
  private server: Server | null = null;
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
  private readonly sockets = new Set<Duplex>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly aborts = new Set<AbortController>();
  private readonly conns = new Set<WsConn>();
  private readonly users = new Map<string, DoubleUser>();
  private readonly refreshTokens = new Map<string, RefreshTokenRec>();
  private readonly codes = new Map<string, { userId: string; created: number }>(); // key: clientId \n code
  private readonly flows = new Map<string, { clientId: string; redirectUri: string; remote: string }>();
  private readonly failed = new Map<string, number>();
  private readonly bans = new Set<string>();
  private fault: Fault = { kind: "none" };
  private connCounter = 0;
  private closed = false;
  readonly stats: DoubleStats;

  constructor(private readonly opts: DoubleOptions) {
    this.behaviour = opts.behaviour ?? "2023.12";
    this.haVersion = opts.haVersion ?? (this.behaviour === "2026.5" ? "2026.5.0" : DEFAULT_HA_VERSION);
    this.host = opts.host ?? "127.0.0.1";
    this.authTimeoutMs = opts.authTimeoutMs ?? 10_000;
    this.corsOrigins = opts.corsAllowedOrigins ?? ["https://cast.home-assistant.io"];
    this.portNum = opts.port ?? 0;
    const failed = this.failed;
    const bans = this.bans;
    this.stats = {
      wsConnections: 0,
      authMessages: 0,
      authOk: 0,
      authInvalid: 0,
      currentUserRequests: 0,
      userListRequests: 0,
      restRequests: 0,
      tokenRequests: 0,
      failedLogins(address?: string): number {
        if (address !== undefined) return failed.get(normalizeAddress(address)) ?? 0;
        let sum = 0;
        for (const n of failed.values()) sum += n;
        return sum;
      },
      failedLoginCounts(): Record<string, number> {
        return Object.fromEntries(failed);
      },
      bannedAddresses(): string[] {
        return [...bans];
      },
      frames: [],
      requests: [],
      failedLoginEvents: [],
      closes: [],
    };
  }

  get port(): number {
    return this.portNum;
  }

  get url(): string {
    const h = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `http://${h}:${this.portNum}`;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.closed) throw new Error("HomeAssistantDouble: closed");
    if (this.server) return;
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on("connection", (sock: Socket) => {
      this.sockets.add(sock);
      sock.on("error", () => undefined);
      sock.on("close", () => this.sockets.delete(sock));
    });
    server.on("upgrade", (req: IncomingMessage, sock: Duplex, head: Buffer) => this.onUpgrade(req, sock, head));
    server.on("clientError", (_err, sock: Duplex) => sock.destroy());
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      server.once("error", onErr);
      server.listen(this.portNum, this.host, () => {
        server.off("error", onErr);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.portNum = addr.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    // HA: http/ban.py keeps failed-login counts in memory only: a restart clears them, not the bans.
    this.failed.clear();
    for (const c of this.conns) {
      if (c.authTimer) this.cancel(c.authTimer);
      if (!c.serverClosed) {
        c.serverClosed = true;
        c.phase = "closing";
        this.stats.closes.push({ conn: c.n, by: "server", code: 1006 }); // socket destroyed below
      }
    }
    this.conns.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.aborts) ac.abort();
    this.aborts.clear();
    if (!server) return;
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    server.closeAllConnections();
    await done;
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.closed) return;
    this.closed = true;
    this.wss.close();
  }

  setFault(f: Fault): void {
    this.fault = f;
  }

  resetStats(): void {
    const s = this.stats;
    s.wsConnections = 0;
    s.authMessages = 0;
    s.authOk = 0;
    s.authInvalid = 0;
    s.currentUserRequests = 0;
    s.userListRequests = 0;
    s.restRequests = 0;
    s.tokenRequests = 0;
    s.frames.length = 0;
    s.requests.length = 0;
    s.failedLoginEvents.length = 0;
    s.closes.length = 0;
    // The failed-login counter is reset as well (it is what failedLogins() reports); bans stay.
    this.failed.clear();
  }

  unbanAll(): void {
    // Like deleting ip_bans.yaml and restarting: bans and in-memory counters are gone.
    this.bans.clear();
    this.failed.clear();
  }

  // ------------------------------------------------------------------ timers

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private cancel(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  private trackFetch = (ac: AbortController, timer: NodeJS.Timeout): (() => void) => {
    this.aborts.add(ac);
    this.timers.add(timer);
    return () => {
      this.aborts.delete(ac);
      this.timers.delete(timer);
    };
  };

  // ------------------------------------------------------------------ users & tokens

  addUser(u: Partial<DoubleUser> = {}): DoubleUser {
    const id = u.id ?? uuidHex();
    let username = u.username;
    if (username === undefined) {
      username = "testuser";
      let i = 2;
      while ([...this.users.values()].some((x) => x.username === username)) username = `testuser${i++}`;
    }
    const user: DoubleUser = {
      id,
      name: u.name ?? "testuser",
      username,
      password: u.password ?? "testpass",
      is_owner: u.is_owner ?? false,
      is_admin: u.is_admin ?? true,
      is_active: u.is_active ?? true,
      local_only: u.local_only ?? false,
    };
    this.users.set(id, user);
    return user;
  }

  private mustUser(userId: string): DoubleUser {
    const u = this.users.get(userId);
    if (!u) throw new Error(`HomeAssistantDouble: unknown user ${userId}`);
    return u;
  }

  private newRefreshToken(
    userId: string,
    clientId: string | null,
    type: RefreshTokenRec["type"] = "normal",
    accessTokenExpirationS = ACCESS_TOKEN_EXPIRATION_S,
    clientName: string | null = null,
  ): RefreshTokenRec {
    this.mustUser(userId);
    const rt: RefreshTokenRec = {
      id: uuidHex(),
      token: randomBytes(64).toString("hex"),
      jwtKey: randomBytes(64).toString("hex"),
      userId,
      clientId,
      type,
      accessTokenExpirationS,
      clientName,
    };
    this.refreshTokens.set(rt.id, rt);
    return rt;
  }

  private createAccessToken(rt: RefreshTokenRec, iat = Math.floor(Date.now() / 1000), ttl?: number): string {
    return signHs256({ iss: rt.id, iat, exp: iat + (ttl ?? rt.accessTokenExpirationS) }, rt.jwtKey);
  }

  /** Default client_id for tokens made through the API: the frontend's, i.e. "<url>/". */
  private defaultClientId(): string {
    return `${this.url}/`;
  }

  accessToken(userId: string, opts: { ttlSeconds?: number; issuedAt?: number; clientId?: string } = {}): string {
    const rt = this.newRefreshToken(userId, opts.clientId ?? this.defaultClientId());
    return this.createAccessToken(rt, opts.issuedAt ?? Math.floor(Date.now() / 1000), opts.ttlSeconds);
  }

  longLivedToken(userId: string, days = 3650): string {
    const rt = this.newRefreshToken(userId, null, "long_lived_access_token", days * 86400, "test double");
    return this.createAccessToken(rt);
  }

  createRefreshToken(userId: string, clientId?: string): { id: string; token: string } {
    const rt = this.newRefreshToken(userId, clientId ?? this.defaultClientId());
    return { id: rt.id, token: rt.token };
  }

  private refreshTokenByToken(token: string): RefreshTokenRec | undefined {
    for (const rt of this.refreshTokens.values()) if (rt.token === token) return rt;
    return undefined;
  }

  private removeRefreshToken(rt: RefreshTokenRec): void {
    this.refreshTokens.delete(rt.id);
    // HA: auth.py registers a revoke callback per WS connection -> the connection is
    // cancelled, which ends in wsock.close() (close code 1000).
    for (const c of this.conns) {
      if (c.refreshTokenId === rt.id && c.phase !== "closing") this.wsClose(c, 1000);
    }
  }

  revokeRefreshToken(tokenOrId: string): void {
    const rt = this.refreshTokens.get(tokenOrId) ?? this.refreshTokenByToken(tokenOrId);
    if (rt) this.removeRefreshToken(rt);
  }

  setUserActive(userId: string, active: boolean): void {
    this.mustUser(userId).is_active = active;
  }

  setUserLocalOnly(userId: string, localOnly: boolean): void {
    this.mustUser(userId).local_only = localOnly;
  }

  /** HA: AuthManager.async_validate_access_token (returns None for inactive users). */
  private validateAccessToken(token: string): RefreshTokenRec | null {
    const d = decodeUnverified(token);
    if (!d) return null;
    const iss = d.payload["iss"];
    const rt = typeof iss === "string" ? this.refreshTokens.get(iss) : undefined;
    if (!rt) return null;
    if (!verifyHs256(d, rt.jwtKey, rt.id, JWT_LEEWAY_S, Date.now() / 1000)) return null;
    const user = this.users.get(rt.userId);
    if (!user || !user.is_active) return null;
    return rt;
  }

  /** HA: http/auth.py async_user_not_allowed_do_auth (2023.12 returns the human message). */
  private userNotAllowed(user: DoubleUser, remote: string): string | null {
    if (!user.is_active) return "User is not active";
    if (!user.local_only) return null;
    return this.isLocal(remote) ? null : "User cannot authenticate remotely";
  }

  private isLocal(remote: string): boolean {
    return !this.opts.clientsAreRemote && isLocalAddress(remote);
  }

  // ------------------------------------------------------------------ bans

  /** HA: http/ban.py process_wrong_login. */
  private wrongLogin(remote: string, reason: string): void {
    // DOUBLE: HA only keeps the numeric counter when login_attempts_threshold >= 1
    // (it always logs the warning and shows the "Login attempt failed" notification).
    // The double always counts so tests can assert "no failed login" without a threshold.
    this.stats.failedLoginEvents.push({ address: remote, reason });
    const n = (this.failed.get(remote) ?? 0) + 1;
    this.failed.set(remote, n);
    const th = this.opts.loginAttemptsThreshold;
    if (th !== undefined && th >= 1 && n >= th) this.bans.add(remote);
  }

  /** HA: http/ban.py process_success_login (WS auth_ok and a successful login flow). */
  private successLogin(remote: string): void {
    this.failed.delete(remote);
  }

  // ------------------------------------------------------------------ HTTP

  private recordRequest(req: IncomingMessage): void {
    this.stats.requests.push({ method: req.method ?? "GET", path: req.url ?? "/", headers: lowerHeaders(req.headers) });
  }

  private corsClassOf(path: string): CorsClass {
    // HA: views with cors_allowed=True allow every origin ("*"); all other views get the
    // configured origins. Unknown routes (404) and the static /auth/authorize have none.
    if (path === "/auth/token" || path === "/auth/revoke") return "all";
    if (
      path === "/api/" ||
      path === "/api/config" ||
      path === "/api/states" ||
      path === "/api/websocket" ||
      path === "/auth/login_flow" ||
      path.startsWith("/auth/login_flow/") ||
      path === "/auth/providers" ||
      path === "/.well-known/oauth-authorization-server"
    ) {
      return "configured";
    }
    return null;
  }

  private originAllowed(cls: CorsClass, origin: string): boolean {
    if (cls === "all") return true;
    if (cls === "configured") return this.corsOrigins.includes(origin);
    return false;
  }

  private send(ctx: ReqCtx, r: Reply, opts: { cors?: boolean; security?: boolean } = {}): void {
    const headers: Record<string, string> = { ...r.headers };
    const origin = ctx.req.headers["origin"];
    if (opts.cors !== false && typeof origin === "string" && ctx.method !== "OPTIONS") {
      // aiohttp_cors _on_response_prepare: echo the origin; HA configures no
      // allow_credentials and no expose_headers.
      const cls = this.corsClassOf(ctx.url.pathname);
      if (r.status !== 404 && r.status !== 405 && this.originAllowed(cls, origin)) {
        headers["access-control-allow-origin"] = origin;
      }
    }
    if (opts.security) {
      // HA: http/headers.py
      headers["referrer-policy"] = "no-referrer";
      headers["x-content-type-options"] = "nosniff";
      headers["x-frame-options"] = "SAMEORIGIN";
    }
    const body = typeof r.body === "string" ? Buffer.from(r.body, "utf8") : r.body;
    headers["content-length"] = String(body.length);
    const write = () => {
      if (ctx.res.destroyed || ctx.res.headersSent) return;
      ctx.res.writeHead(r.status, headers);
      ctx.res.end(body);
    };
    const f = this.fault;
    if (f.kind === "slow") this.later(f.delayMs, write);
    else write();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.recordRequest(req);
    // Counted on arrival, whatever the answer (fault, ban, X-Forwarded-For...).
    const arrivedPath = new URL(req.url ?? "/", "http://double.invalid").pathname;
    if (arrivedPath.startsWith("/api/") && arrivedPath !== "/api/websocket") this.stats.restRequests++;
    if (arrivedPath === "/auth/token" && req.method === "POST") this.stats.tokenRequests++;
    const fault = this.fault;
    if (fault.kind === "hang") return; // never answer; the socket is destroyed by stop()/close()
    const ctx: ReqCtx = {
      req,
      res,
      remote: normalizeAddress(req.socket.remoteAddress ?? ""),
      url: new URL(req.url ?? "/", "http://double.invalid"),
      method: req.method ?? "GET",
    };
    if (fault.kind === "http_500") return this.send(ctx, internalError(req), { cors: false });
    // HA: http/forwarded.py runs before the ban middleware. With use_x_forwarded_for
    // off (the default) any X-Forwarded-For is answered with HTTPBadRequest
    // ("A request from a reverse proxy was received from ..., but your HTTP integration
    // is not set-up for reverse proxies"): 400 with aiohttp's text "400: Bad Request".
    if (req.headers["x-forwarded-for"] !== undefined) return this.send(ctx, textReply(400));
    // HA: http/ban.py ban_middleware
    if (this.bans.has(ctx.remote)) return this.send(ctx, textReply(403));
    const path = ctx.url.pathname;
    const page = ctx.method === "GET" ? this.opts.pages?.[path] : undefined;
    if (page) {
      return this.send(ctx, { status: 200, headers: { "content-type": page.contentType, "cache-control": "no-store" }, body: typeof page.body === "string" ? page.body : Buffer.from(page.body) }, { cors: false, security: true });
    }
    if (ctx.method === "OPTIONS" && this.corsClassOf(path) !== null) {
      return this.send(ctx, this.preflight(ctx), { cors: false, security: true });
    }
    const needsBody = ctx.method === "POST";
    if (!needsBody) {
      void this.route(ctx, Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on("end", () => void this.route(ctx, Buffer.concat(chunks)));
    req.on("error", () => undefined);
  }

  /** aiohttp_cors _preflight_handler, with HA's ResourceOptions(allow_headers=ALLOWED_CORS_HEADERS, allow_methods="*"). */
  private preflight(ctx: ReqCtx): Reply {
    const origin = ctx.req.headers["origin"];
    if (typeof origin !== "string") {
      return textReply(403, "CORS preflight request failed: origin header is not specified in the request");
    }
    const method = ctx.req.headers["access-control-request-method"];
    if (typeof method !== "string") {
      return textReply(403, "CORS preflight request failed: 'Access-Control-Request-Method' header is not specified");
    }
    const cls = this.corsClassOf(ctx.url.pathname);
    if (!this.originAllowed(cls, origin)) {
      // DOUBLE: aiohttp_cors answers "request method ... is not allowed for ... origin"
      // instead when the method has no route on the resource; the double always says this.
      return textReply(403, `CORS preflight request failed: origin '${origin}' is not allowed`);
    }
    const reqHeadersRaw = ctx.req.headers["access-control-request-headers"];
    const reqHeaders =
      typeof reqHeadersRaw === "string"
        ? [...new Set(reqHeadersRaw.split(",").map((h) => h.trim().toUpperCase()).filter(Boolean))]
        : [];
    const disallowed = reqHeaders.filter((h) => !ALLOWED_CORS_HEADERS.includes(h));
    if (disallowed.length) {
      return textReply(403, `CORS preflight request failed: headers are not allowed: ${disallowed.join(", ")}`);
    }
    const r = emptyReply(200);
    r.headers["access-control-allow-origin"] = origin;
    r.headers["access-control-allow-methods"] = method;
    if (reqHeaders.length) r.headers["access-control-allow-headers"] = reqHeaders.join(",");
    return r;
  }

  private async route(ctx: ReqCtx, body: Buffer): Promise<void> {
    try {
      const r = await this.dispatch(ctx, body);
      if (r) this.send(ctx, r, { security: true });
    } catch {
      this.send(ctx, internalError(ctx.req), { cors: false });
    }
  }

  private async form(ctx: ReqCtx, body: Buffer): Promise<URLSearchParams> {
    // aiohttp request.post() parses urlencoded and multipart bodies (home-assistant-js-websocket
    // sends FormData, i.e. multipart); anything else (e.g. JSON) yields an empty MultiDict.
    const ct = ctx.req.headers["content-type"] ?? "";
    if (ct.toLowerCase().startsWith("application/x-www-form-urlencoded")) return new URLSearchParams(body.toString("utf8"));
    if (ct.toLowerCase().startsWith("multipart/form-data")) {
      const fields = new URLSearchParams();
      try {
        const parsed = await new Response(new Uint8Array(body), { headers: { "content-type": ct } }).formData();
        for (const [name, value] of parsed) if (typeof value === "string") fields.append(name, value);
      } catch {
        // a malformed multipart body reads as empty, like aiohttp's
      }
      return fields;
    }
    return new URLSearchParams();
  }

  private async dispatch(ctx: ReqCtx, body: Buffer): Promise<Reply | null> {
    const path = ctx.url.pathname;
    const m = ctx.method;
    const get = m === "GET" || m === "HEAD";
    switch (path) {
      case "/":
        if (!get) return textReply(405);
        return htmlReply(200, `<!DOCTYPE html><html><head><title>Home Assistant</title></head><body>Home Assistant test double ${escapeHtml(this.haVersion)}</body></html>`);
      case "/api/":
        if (!get) return textReply(405);
        return this.withAuth(ctx, () => jsonReply(200, { message: "API running." }));
      case "/api/config":
        if (!get) return textReply(405);
        return this.withAuth(ctx, () => jsonReply(200, this.configDict()));
      case "/api/states":
        if (!get) return textReply(405);
        return this.withAuth(ctx, () => jsonReply(200, []));
      case "/api/websocket":
        // aiohttp WebSocketResponse.prepare() on a request without Upgrade
        return textReply(
          400,
          `No WebSocket UPGRADE hdr: ${ctx.req.headers["upgrade"] ?? "None"}\n Can "Upgrade" only to "WebSocket".`,
        );
      case "/.well-known/oauth-authorization-server":
        if (!get) return textReply(405);
        return jsonReply(200, {
          authorization_endpoint: "/auth/authorize",
          token_endpoint: "/auth/token",
          revocation_endpoint: "/auth/revoke",
          response_types_supported: ["code"],
          service_documentation: "https://developers.home-assistant.io/docs/auth_api",
        });
      case "/auth/providers":
        if (!get) return textReply(405);
        return jsonReply(200, [{ name: "Home Assistant Local", id: null, type: "homeassistant" }]);
      case "/auth/authorize":
        if (!get) return textReply(405);
        return this.authorizePage(ctx);
      case "/auth/login_flow_double":
        if (m !== "POST") return textReply(405);
        return this.loginFormPost(ctx, await this.form(ctx, body));
      case "/auth/login_flow":
        if (m === "GET") return emptyReply(405);
        if (m !== "POST") return textReply(405);
        return this.loginFlowCreate(ctx, body);
      case "/auth/token":
        if (m !== "POST") return textReply(405);
        return this.tokenEndpoint(ctx, await this.form(ctx, body));
      case "/auth/revoke":
        if (m !== "POST") return textReply(405);
        return this.revokeEndpoint(await this.form(ctx, body));
      default:
        if (path.startsWith("/auth/login_flow/")) {
          const flowId = path.slice("/auth/login_flow/".length);
          if (m === "GET") return jsonReply(404, { message: "Invalid flow specified" });
          if (m === "DELETE") {
            if (!this.flows.delete(flowId)) return jsonReply(404, { message: "Invalid flow specified" });
            return jsonReply(200, { message: "Flow aborted" });
          }
          if (m !== "POST") return textReply(405);
          return this.loginFlowStep(ctx, flowId, body);
        }
        return textReply(404);
    }
  }

  /** HA: a view with requires_auth; HTTPUnauthorized is counted by the ban middleware. */
  private withAuth(ctx: ReqCtx, ok: () => Reply): Reply {
    const h = ctx.req.headers["authorization"];
    let authed = false;
    if (typeof h === "string") {
      // HA: auth_type, auth_val = header.split(" ", 1); only "Bearer" is accepted.
      const i = h.indexOf(" ");
      if (i >= 0 && h.slice(0, i) === "Bearer") {
        const rt = this.validateAccessToken(h.slice(i + 1));
        const user = rt ? this.users.get(rt.userId) : undefined;
        authed = !!user && this.userNotAllowed(user, ctx.remote) === null;
      }
    }
    if (!authed) {
      this.wrongLogin(ctx.remote, `401 ${ctx.method} ${ctx.url.pathname}`);
      return textReply(401);
    }
    // HA: a successful REST request does NOT reset the failed-login counter.
    return ok();
  }

  private configDict(): Record<string, unknown> {
    return {
      latitude: 52.3731339,
      longitude: 4.8903147,
      elevation: 0,
      unit_system: {
        length: "km",
        accumulated_precipitation: "mm",
        mass: "g",
        pressure: "Pa",
        temperature: "°C",
        volume: "L",
        wind_speed: "m/s",
      },
      location_name: "Home",
      time_zone: "UTC",
      components: ["auth", "http", "websocket_api", "api", "frontend"],
      config_dir: "/config",
      whitelist_external_dirs: [],
      allowlist_external_dirs: [],
      allowlist_external_urls: [],
      version: this.haVersion,
      config_source: "storage",
      safe_mode: false,
      recovery_mode: false,
      state: "RUNNING",
      external_url: null,
      internal_url: null,
      currency: "EUR",
      country: null,
      language: "en",
    };
  }

  // ------------------------------------------------------------------ OAuth

  private storeCode(clientId: string, userId: string): string {
    const code = uuidHex();
    this.codes.set(`${clientId}\n${code}`, { userId, created: Date.now() });
    return code;
  }

  /** HA: _create_auth_code_store.retrieve_result — single use, bound to client_id, 10 minutes. */
  private retrieveCode(clientId: string, code: string): string | null {
    const key = `${clientId}\n${code}`;
    const e = this.codes.get(key);
    if (!e) return null;
    this.codes.delete(key);
    return Date.now() - e.created < AUTH_CODE_LIFETIME_MS ? e.userId : null;
  }

  private findUserByUsername(username: string): DoubleUser | undefined {
    // HA: the homeassistant provider normalizes usernames (strip + casefold).
    const n = username.trim().toLowerCase();
    return [...this.users.values()].find((u) => u.username.trim().toLowerCase() === n);
  }

  private checkRedirect(clientId: string, redirectUri: string): Promise<boolean> {
    return verifyRedirectUri(clientId, redirectUri, 5000, this.trackFetch);
  }

  /**
   * DOUBLE: real HA serves the frontend's authorize.html here and validates client_id
   * only when the page POSTs /auth/login_flow (redirect_uri after the password). The
   * double validates both up front and answers 400 with a short HTML page.
   * `response_type` is not checked (HA does not check it either).
   */
  private async authorizePage(ctx: ReqCtx): Promise<Reply> {
    const q = ctx.url.searchParams;
    const clientId = q.get("client_id") ?? "";
    const redirectUri = q.get("redirect_uri") ?? "";
    const state = q.get("state") ?? "";
    if (!verifyClientId(clientId)) return htmlReply(400, errorPage("Invalid client id"));
    if (!(await this.checkRedirect(clientId, redirectUri))) return htmlReply(400, errorPage("Invalid redirect URI"));
    return htmlReply(200, loginPage({ clientId, redirectUri, state, error: null }));
  }

  /** The double's simplified stand-in for the frontend + /auth/login_flow. */
  private async loginFormPost(ctx: ReqCtx, f: URLSearchParams): Promise<Reply> {
    const clientId = f.get("client_id") ?? "";
    const redirectUri = f.get("redirect_uri") ?? "";
    const state = f.get("state") ?? "";
    if (!verifyClientId(clientId)) {
      this.wrongLogin(ctx.remote, "login: invalid client id"); // HA: 400 from a @log_invalid_auth view
      return htmlReply(400, errorPage("Invalid client id"));
    }
    const user = this.findUserByUsername(f.get("username") ?? "");
    if (!user || user.password !== (f.get("password") ?? "")) {
      // HA: errors {"base": "invalid_auth"} -> process_wrong_login; HTTP 200 with the form
      this.wrongLogin(ctx.remote, "login: invalid_auth");
      return htmlReply(200, loginPage({ clientId, redirectUri, state, error: "Invalid username or password" }));
    }
    if (!(await this.checkRedirect(clientId, redirectUri))) {
      this.wrongLogin(ctx.remote, "login: invalid redirect uri");
      return htmlReply(403, errorPage("Invalid redirect URI"));
    }
    const notAllowed = this.userNotAllowed(user, ctx.remote);
    if (notAllowed) {
      this.wrongLogin(ctx.remote, `login: ${notAllowed}`);
      return htmlReply(403, errorPage(`Login blocked: ${notAllowed}`));
    }
    this.successLogin(ctx.remote); // HA: a successful login flow calls process_success_login
    const code = this.storeCode(clientId, user.id);
    // The frontend (ha-auth-flow _redirect) builds the URL like this, keeping any query.
    let loc = redirectUri;
    if (!loc.includes("?")) loc += "?";
    else if (!loc.endsWith("&")) loc += "&";
    loc += `code=${encodeURIComponent(code)}`;
    if (state) loc += `&state=${encodeURIComponent(state)}`;
    return { status: 302, headers: { location: loc, "content-type": "text/plain; charset=utf-8" }, body: "" };
  }

  private parseJsonBody(body: Buffer): unknown {
    try {
      return JSON.parse(body.toString("utf8"));
    } catch {
      return undefined;
    }
  }

  /** HA: auth/login_flow.py LoginFlowIndexView.post (minimal: one homeassistant provider). */
  private loginFlowCreate(ctx: ReqCtx, body: Buffer): Reply {
    const data = this.parseJsonBody(body);
    // HA: RequestDataValidator -> 400 {"message": "Message format incorrect: ..."} (not counted)
    if (
      !isPlainObject(data) ||
      typeof data["client_id"] !== "string" ||
      typeof data["redirect_uri"] !== "string" ||
      !(typeof data["handler"] === "string" || Array.isArray(data["handler"]))
    ) {
      return jsonReply(400, { message: "Message format incorrect" });
    }
    if (!verifyClientId(data["client_id"])) {
      this.wrongLogin(ctx.remote, "login_flow: invalid client id");
      return jsonReply(400, { message: "Invalid client id" });
    }
    const h = data["handler"];
    const handlerOk = Array.isArray(h) ? h[0] === "homeassistant" && (h[1] ?? null) === null : h === "homeassistant";
    if (!handlerOk) {
      this.wrongLogin(ctx.remote, "login_flow: invalid handler");
      return jsonReply(404, { message: "Invalid handler specified" });
    }
    const flowId = uuidHex();
    this.flows.set(flowId, { clientId: data["client_id"], redirectUri: data["redirect_uri"], remote: ctx.remote });
    return jsonReply(200, this.flowForm(flowId, {}));
  }

  private flowForm(flowId: string, errors: Record<string, string>): Record<string, unknown> {
    return {
      type: "form",
      flow_id: flowId,
      handler: ["homeassistant", null],
      step_id: "init",
      data_schema: [
        { type: "string", name: "username" },
        { type: "string", name: "password" },
      ],
      errors,
      description_placeholders: null,
      last_step: null,
      preview: null,
    };
  }

  /** HA: auth/login_flow.py LoginFlowResourceView.post. */
  private async loginFlowStep(ctx: ReqCtx, flowId: string, body: Buffer): Promise<Reply> {
    const data = this.parseJsonBody(body);
    if (!isPlainObject(data) || typeof data["client_id"] !== "string") {
      return jsonReply(400, { message: "Message format incorrect" });
    }
    const fail = (r: Reply, why: string): Reply => {
      this.wrongLogin(ctx.remote, why); // @log_invalid_auth: any status >= 400
      return r;
    };
    const clientId = data["client_id"];
    if (!verifyClientId(clientId)) return fail(jsonReply(400, { message: "Invalid client id" }), "login_flow: invalid client id");
    const flow = this.flows.get(flowId);
    if (!flow) return fail(jsonReply(404, { message: "Invalid flow specified" }), "login_flow: invalid flow");
    if (flow.remote !== ctx.remote) return fail(jsonReply(400, { message: "IP address changed" }), "login_flow: ip changed");
    if (typeof data["username"] !== "string" || typeof data["password"] !== "string") {
      return fail(jsonReply(400, { message: "User input malformed" }), "login_flow: malformed");
    }
    const user = this.findUserByUsername(data["username"]);
    if (!user || user.password !== data["password"]) {
      this.wrongLogin(ctx.remote, "login_flow: invalid_auth");
      return jsonReply(200, this.flowForm(flowId, { base: "invalid_auth" }));
    }
    this.flows.delete(flowId);
    if (!(await this.checkRedirect(clientId, flow.redirectUri))) {
      return fail(jsonReply(403, { message: "Invalid redirect URI" }), "login_flow: invalid redirect uri");
    }
    const notAllowed = this.userNotAllowed(user, ctx.remote);
    if (notAllowed) return fail(jsonReply(403, { message: `Login blocked: ${notAllowed}` }), `login_flow: ${notAllowed}`);
    this.successLogin(ctx.remote);
    return jsonReply(200, {
      version: 1,
      minor_version: 1,
      type: "create_entry",
      flow_id: flowId,
      handler: ["homeassistant", null],
      title: "Home Assistant Local",
      description: null,
      description_placeholders: null,
      result: this.storeCode(clientId, user.id),
    });
  }

  /** HA: auth/__init__.py TokenView.post (decorated with @log_invalid_auth: every >= 400 counts). */
  private tokenEndpoint(ctx: ReqCtx, data: URLSearchParams): Reply {
    let r: Reply;
    if (data.get("action") === "revoke") r = this.revokeEndpoint(data); // deprecated IndieAuth form
    else if (data.get("grant_type") === "authorization_code") r = this.grantAuthCode(ctx, data);
    else if (data.get("grant_type") === "refresh_token") r = this.grantRefresh(ctx, data);
    else r = jsonReply(400, { error: "unsupported_grant_type" });
    if (r.status >= 400) {
      let why = "token";
      try {
        why = `token: ${String((JSON.parse(String(r.body)) as { error?: string }).error)}`;
      } catch {
        /* keep */
      }
      this.wrongLogin(ctx.remote, why);
    }
    return r;
  }

  private grantAuthCode(ctx: ReqCtx, data: URLSearchParams): Reply {
    const clientId = data.get("client_id");
    if (clientId === null || !verifyClientId(clientId)) {
      return jsonReply(400, { error: "invalid_request", error_description: "Invalid client id" });
    }
    const code = data.get("code");
    const userId = code === null ? null : this.retrieveCode(clientId, code);
    if (userId === null) return jsonReply(400, { error: "invalid_request", error_description: "Invalid code" });
    const user = this.users.get(userId);
    if (!user) return jsonReply(400, { error: "invalid_request", error_description: "Invalid code" });
    const notAllowed = this.userNotAllowed(user, ctx.remote);
    if (notAllowed) return jsonReply(403, { error: "access_denied", error_description: notAllowed });
    const rt = this.newRefreshToken(user.id, clientId);
    return jsonReply(
      200,
      {
        access_token: this.createAccessToken(rt),
        token_type: "Bearer",
        refresh_token: rt.token,
        expires_in: rt.accessTokenExpirationS,
        ha_auth_provider: "homeassistant",
      },
      { "cache-control": "no-store", pragma: "no-cache" },
    );
  }

  private grantRefresh(ctx: ReqCtx, data: URLSearchParams): Reply {
    const clientId = data.get("client_id");
    if (clientId !== null && !verifyClientId(clientId)) {
      return jsonReply(400, { error: "invalid_request", error_description: "Invalid client id" });
    }
    const token = data.get("refresh_token");
    if (token === null) return jsonReply(400, { error: "invalid_request" });
    const rt = this.refreshTokenByToken(token);
    if (!rt) return jsonReply(400, { error: "invalid_grant" });
    if (rt.clientId !== clientId) return jsonReply(400, { error: "invalid_request" });
    const user = this.users.get(rt.userId);
    if (!user) return jsonReply(400, { error: "invalid_grant" });
    const notAllowed = this.userNotAllowed(user, ctx.remote);
    if (notAllowed) return jsonReply(403, { error: "access_denied", error_description: notAllowed });
    return jsonReply(
      200,
      { access_token: this.createAccessToken(rt), token_type: "Bearer", expires_in: rt.accessTokenExpirationS },
      { "cache-control": "no-store", pragma: "no-cache" },
    );
  }

  /** HA: RevokeTokenView.post — always 200, empty body. */
  private revokeEndpoint(data: URLSearchParams): Reply {
    const token = data.get("token");
    if (token !== null) {
      const rt = this.refreshTokenByToken(token);
      if (rt) this.removeRefreshToken(rt);
    }
    return emptyReply(200);
  }

  // ------------------------------------------------------------------ WebSocket

  private rawReply(sock: Duplex, r: Reply): void {
    const body = typeof r.body === "string" ? Buffer.from(r.body, "utf8") : r.body;
    const head = [`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ""}`];
    for (const [k, v] of Object.entries(r.headers)) head.push(`${k}: ${v}`);
    head.push(`content-length: ${body.length}`, "connection: close", "", "");
    const write = () => {
      if (sock.destroyed) return;
      sock.write(head.join("\r\n"));
      sock.end(body);
    };
    const f = this.fault;
    if (f.kind === "slow") this.later(f.delayMs, write);
    else write();
  }

  private onUpgrade(req: IncomingMessage, sock: Duplex, head: Buffer): void {
    this.recordRequest(req);
    sock.on("error", () => undefined);
    const fault = this.fault;
    if (fault.kind === "hang") return; // never answer the handshake
    if (fault.kind === "http_500") return this.rawReply(sock, internalError(req));
    if (req.headers["x-forwarded-for"] !== undefined) return this.rawReply(sock, textReply(400));
    const remote = normalizeAddress(req.socket.remoteAddress ?? "");
    if (this.bans.has(remote)) return this.rawReply(sock, textReply(403));
    const path = new URL(req.url ?? "/", "http://double.invalid").pathname;
    if (path !== "/api/websocket") return this.rawReply(sock, textReply(404));
    const go = () => {
      if (sock.destroyed || !this.server) return;
      this.wss.handleUpgrade(req, sock, head, (ws) => this.onWsOpen(ws, remote));
    };
    if (fault.kind === "slow") this.later(fault.delayMs, go);
    else go();
  }

  private wsOut(c: WsConn, action: () => void): void {
    const f = this.fault;
    if (f.kind === "slow") this.later(f.delayMs, action);
    else action();
  }

  private wsSendNow(c: WsConn, data: string | Buffer): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(data);
    this.stats.frames.push({
      conn: c.n,
      dir: "out",
      data: typeof data === "string" ? data : `binary:${data.toString("base64")}`,
    });
  }

  private wsSend(c: WsConn, msg: unknown): void {
    const data = JSON.stringify(msg);
    this.wsOut(c, () => this.wsSendNow(c, data));
  }

  private wsClose(c: WsConn, code: number): void {
    c.phase = "closing";
    if (c.authTimer) this.cancel(c.authTimer);
    this.wsOut(c, () => {
      if (c.ws.readyState !== c.ws.OPEN) return;
      c.serverClosed = true;
      this.stats.closes.push({ conn: c.n, by: "server", code });
      // aiohttp wsock.close(): close frame with code 1000 and an empty reason
      c.ws.close(code);
    });
  }

  private onWsOpen(ws: WebSocket, remote: string): void {
    if (!this.server) {
      ws.terminate();
      return;
    }
    const c: WsConn = {
      n: ++this.connCounter,
      ws,
      remote,
      phase: "auth",
      lastId: 0,
      subscriptions: new Set(),
      canCoalesce: false,
      serverClosed: false,
    };
    this.conns.add(c);
    this.stats.wsConnections++;
    ws.on("error", () => undefined);
    ws.on("close", (code: number) => {
      if (c.authTimer) this.cancel(c.authTimer);
      this.conns.delete(c);
      if (!c.serverClosed) this.stats.closes.push({ conn: c.n, by: "client", code });
    });
    ws.on("message", (data: RawData, isBinary: boolean) => this.onWsMessage(c, data, isBinary));
    if (this.fault.kind === "garbage") {
      this.wsOut(c, () => this.wsSendNow(c, GARBAGE_TEXT));
      return;
    }
    this.wsSend(c, { type: "auth_required", ha_version: this.haVersion });
    // HA: "Did not receive auth message within 10 seconds" -> Disconnect -> wsock.close() (1000)
    c.authTimer = this.later(this.authTimeoutMs, () => {
      c.authTimer = undefined;
      if (c.phase === "auth" && this.fault.kind !== "hang") this.wsClose(c, 1000);
    });
  }

  private onWsMessage(c: WsConn, raw: RawData, isBinary: boolean): void {
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    const text = isBinary ? null : buf.toString("utf8");
    this.stats.frames.push({ conn: c.n, dir: "in", data: text ?? `binary:${buf.toString("base64")}` });
    if (c.phase === "closing") return;
    const f = this.fault;
    if (f.kind === "hang") return;
    if (f.kind === "garbage") return this.sendGarbage(c);
    if (c.phase === "auth") {
      if (f.kind === "close_mid_handshake") {
        c.phase = "closing";
        if (c.authTimer) this.cancel(c.authTimer);
        c.serverClosed = true;
        this.stats.closes.push({ conn: c.n, by: "server", code: 1006 });
        c.ws.terminate(); // no close frame: the TCP connection is destroyed
        return;
      }
      return this.handleAuth(c, text);
    }
    this.handleCommandFrame(c, text);
  }

  /**
   * Fault "garbage": frames that are not the protocol. On open: an HTML text frame
   * (instead of auth_required). For every message received: a non-JSON text frame, a
   * binary frame, a JSON array, an object of an unknown type, and a success result
   * with a null result (id 1) that a careless client might take for an answer. Never closes.
   */
  private sendGarbage(c: WsConn): void {
    this.wsOut(c, () => {
      this.wsSendNow(c, "garbage: not json {");
      this.wsSendNow(c, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      this.wsSendNow(c, "[1,2,3]");
      this.wsSendNow(c, JSON.stringify({ type: "auth_maybe", ha_version: this.haVersion }));
      this.wsSendNow(c, JSON.stringify({ id: 1, type: "result", success: true, result: null }));
    });
  }

  /** HA: websocket_api/http.py auth phase + auth.py AuthPhase.async_handle. */
  private handleAuth(c: WsConn, text: string | null): void {
    if (c.authTimer) this.cancel(c.authTimer);
    c.authTimer = undefined;
    this.stats.authMessages++;
    // HA: non-text frame -> "Received non-Text message." -> Disconnect (close 1000, no auth_invalid)
    if (text === null) return this.wsClose(c, 1000);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      // HA: "Received invalid JSON." -> Disconnect (close 1000, no auth_invalid, not counted)
      return this.wsClose(c, 1000);
    }
    const errs = validateMapping(msg, AUTH_SCHEMA);
    if (errs.length) {
      // HA: auth_invalid "Auth message incorrectly formatted: <humanize_error>" and Disconnect.
      // Note: this path does NOT call process_wrong_login (not counted as a failed login).
      this.stats.authInvalid++;
      this.wsSend(c, { type: "auth_invalid", message: `Auth message incorrectly formatted: ${humanizeError(msg, errs)}` });
      return this.wsClose(c, 1000);
    }
    const m = msg as Record<string, unknown>;
    const token = m["access_token"];
    const rt = typeof token === "string" && token !== "" ? this.validateAccessToken(token) : null;
    if (rt) {
      const user = this.mustUser(rt.userId);
      // HA 2023.12: websocket_api/auth.py never looks at local_only. 2026.5+: auth_util.py does.
      if (this.behaviour === "2026.5" && user.local_only && !this.isLocal(c.remote)) {
        return this.refuseAuth(c, "user_cannot_authenticate_remotely", "ws: user_cannot_authenticate_remotely");
      }
      c.phase = "command";
      c.refreshTokenId = rt.id;
      c.userId = user.id;
      this.stats.authOk++;
      this.wsSend(c, { type: "auth_ok", ha_version: this.haVersion });
      this.successLogin(c.remote);
      return;
    }
    // A valid, signed token of a deactivated user lands here (see inactiveUserWsMessage).
    let message = MSG_INVALID_AUTH;
    if (typeof token === "string" && this.isInactiveUsersToken(token)) {
      if (this.behaviour === "2026.5") message = "user_not_active";
      else if (this.opts.inactiveUserWsMessage !== undefined) message = this.opts.inactiveUserWsMessage;
    }
    this.refuseAuth(c, message, "ws: auth_invalid");
  }

  /** HA: auth_invalid, then `await process_wrong_login` (count, ban), then Disconnect (close 1000). */
  private refuseAuth(c: WsConn, message: string, reason: string): void {
    this.stats.authInvalid++;
    this.wsSend(c, { type: "auth_invalid", message });
    c.phase = "closing";
    const countThenClose = () => {
      this.wrongLogin(c.remote, reason);
      this.wsClose(c, 1000);
    };
    const delay = this.opts.failedLoginDelayMs ?? 0;
    if (delay > 0) this.later(delay, countThenClose);
    else countThenClose();
  }

  private isInactiveUsersToken(token: string): boolean {
    const d = decodeUnverified(token);
    const iss = d?.payload["iss"];
    const rt = typeof iss === "string" ? this.refreshTokens.get(iss) : undefined;
    if (!d || !rt || !verifyHs256(d, rt.jwtKey, rt.id, JWT_LEEWAY_S, Date.now() / 1000)) return false;
    return this.users.get(rt.userId)?.is_active === false;
  }

  private handleCommandFrame(c: WsConn, text: string | null): void {
    // HA 2023.12 routes binary frames to registered binary handlers; none exist here,
    // which HA logs and ignores.
    if (text === null) return;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return this.wsClose(c, 1000); // HA: "Received invalid JSON." -> close
    }
    // HA accepts a JSON array of messages in the command phase.
    if (Array.isArray(data)) for (const m of data) this.handleCommand(c, m);
    else this.handleCommand(c, data);
  }

  private sendError(c: WsConn, id: unknown, code: string, message: string): void {
    this.wsSend(c, { id, type: "result", success: false, error: { code, message } });
  }

  private sendResult(c: WsConn, id: number, result: unknown): void {
    this.wsSend(c, { id, type: "result", success: true, result });
  }

  /** HA: websocket_api/connection.py ActiveConnection.async_handle (2023.12). */
  private handleCommand(c: WsConn, msg: unknown): void {
    if (!isPlainObject(msg)) return this.sendError(c, 0, "invalid_format", "Message incorrectly formatted.");
    const id = msg["id"];
    const type = msg["type"];
    if (
      typeof id !== "number" ||
      !Number.isInteger(id) ||
      id === 0 ||
      typeof type !== "string" ||
      type === ""
    ) {
      return this.sendError(c, "id" in msg ? id : null, "invalid_format", "Message incorrectly formatted.");
    }
    if (id <= c.lastId) return this.sendError(c, id, "id_reuse", "Identifier values have to increase.");
    const schema = CMD_SCHEMAS[type];
    if (!schema) {
      // HA: unknown commands do not advance last_id.
      return this.sendError(c, id, "unknown_command", "Unknown command.");
    }
    const errs = validateMapping(msg, schema);
    if (errs.length) {
      this.sendError(c, id, "invalid_format", humanizeError(msg, errs));
    } else {
      this.runCommand(c, id, type, msg);
    }
    c.lastId = id;
  }

  private runCommand(c: WsConn, id: number, type: string, msg: Record<string, unknown>): void {
    switch (type) {
      case "auth/current_user": {
        this.stats.currentUserRequests++;
        const u = this.mustUser(c.userId as string);
        // HA: @ws_require_user() (only_active_user): a user deactivated since this connection's auth_ok.
        if (!u.is_active) return this.sendError(c, id, "only_active_user", "Only allowed as active user");
        this.sendResult(c, id, {
          id: u.id,
          name: u.name,
          is_owner: u.is_owner,
          is_admin: isAdmin(u),
          credentials: [{ auth_provider_type: "homeassistant", auth_provider_id: null }],
          mfa_modules: [{ id: "totp", name: "Authenticator app", enabled: false }],
        });
        return;
      }
      case "auth/long_lived_access_token": {
        const days = msg["lifespan"] as number;
        const rt = this.newRefreshToken(
          c.userId as string,
          null,
          "long_lived_access_token",
          days * 86400,
          msg["client_name"] as string,
        );
        this.sendResult(c, id, this.createAccessToken(rt));
        return;
      }
      case "supported_features":
        // HA: set_supported_features; coalescing is allowed when coalesce_messages is present.
        // DOUBLE: the double still sends single JSON objects (allowed: coalescing is an option).
        c.canCoalesce = "coalesce_messages" in (msg["features"] as Record<string, unknown>);
        this.sendResult(c, id, null);
        return;
      case "ping":
        this.wsSend(c, { id, type: "pong" });
        return;
      case "config/auth/list": {
        // HA: config/auth.py websocket_list, @require_admin -> Unauthorized -> "unauthorized".
        this.stats.userListRequests++;
        if (!isAdmin(this.mustUser(c.userId as string))) return this.sendError(c, id, "unauthorized", "Unauthorized");
        // HA: _user_info(); group_ids stand for the group (DoubleUser.is_admin: system-admin, else system-users).
        this.sendResult(
          c,
          id,
          [...this.users.values()].map((u) => ({
            id: u.id,
            username: u.username,
            name: u.name,
            is_owner: u.is_owner,
            is_active: u.is_active,
            local_only: u.local_only,
            system_generated: false,
            group_ids: [u.is_admin ? "system-admin" : "system-users"],
            credentials: [{ type: "homeassistant" }],
          })),
        );
        return;
      }
      case "get_states":
        this.sendResult(c, id, []);
        return;
      case "get_config":
        this.sendResult(c, id, this.configDict());
        return;
      case "get_services":
      case "get_panels":
        this.sendResult(c, id, {});
        return;
      case "subscribe_events":
        // DOUBLE: no non-admin allowlist check; no events are ever fired.
        c.subscriptions.add(id);
        this.sendResult(c, id, null);
        return;
      case "unsubscribe_events": {
        const sub = msg["subscription"] as number;
        if (c.subscriptions.delete(sub)) this.sendResult(c, id, null);
        else this.sendError(c, id, "not_found", "Subscription not found.");
        return;
      }
      case "subscribe_entities":
        c.subscriptions.add(id);
        this.sendResult(c, id, null);
        this.wsSend(c, { id, type: "event", event: { a: {} } });
        return;
    }
  }
}

/** HA: auth/models.py User.is_admin: `is_owner or (is_active and in the system-admin group)`. */
function isAdmin(u: DoubleUser): boolean {
  return u.is_owner || (u.is_active && u.is_admin);
}

// ======================================================================= HTML

function pageShell(body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Home Assistant</title></head>
<body>
${body}
</body>
</html>
`;
}

function errorPage(message: string): string {
  return pageShell(`<h1>Home Assistant</h1>\n<p id="error" role="alert">${escapeHtml(message)}</p>`);
}

function loginPage(p: { clientId: string; redirectUri: string; state: string; error: string | null }): string {
  const hidden = (n: string, v: string) => `<input type="hidden" name="${n}" value="${escapeHtml(v)}">`;
  return pageShell(`<h1>Home Assistant</h1>
<p>Log in to continue to <span id="client-id">${escapeHtml(p.clientId)}</span>.</p>
${p.error ? `<p id="error" role="alert">${escapeHtml(p.error)}</p>` : ""}
<form id="login-form" method="post" action="/auth/login_flow_double">
${hidden("response_type", "code")}
${hidden("client_id", p.clientId)}
${hidden("redirect_uri", p.redirectUri)}
${hidden("state", p.state)}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>`);
}
