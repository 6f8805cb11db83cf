/**
 * Everything a frontend test runs against, on loopback with random ports: the Home
 * Assistant double (which also serves the host pages, home-assistant-js-websocket and the
 * built dist/jwt-cookie.js from Home Assistant's own origin, like /hacsfiles/), the real
 * signer in workerd, a tiny "service" that echoes the cookies it receives, and Debian's
 * Chromium driven by playwright-core. Chromium maps ha.example.test, auth.example.test and
 * grafana.example.test to 127.0.0.1, so Domain cookies, SameSite and CORS behave as in
 * production (ports stay as they are).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { launchChromium } from "./chromium.js";
import { startHomeAssistantDouble, type DoubleUser, type HomeAssistantDouble } from "../ha-double/index.js";
import { startWorkerdSigner, testSigningKey, type RunningSigner } from "./signer.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const HA_HOST = "ha.example.test";
export const SIGNER_HOST = "auth.example.test";
export const SERVICE_HOST = "grafana.example.test";
export const BUNDLE_PATH = "/hacsfiles/jwt-cookie/jwt-cookie.js";

export interface AuthData {
  hassUrl: string;
  clientId: string | null;
  expires: number;
  refresh_token: string;
  access_token: string;
  expires_in: number;
}

export interface HostConfig {
  mode?: "browser" | "android" | "android-v2" | "ios";
  auth?: AuthData;
  /** Loaded like extra_module_url (import()); { url } loads as <script type=module crossorigin=use-credentials>. */
  extraModules?: Array<string | { url: string }>;
  panel?: { module_url: string; config: Record<string, unknown>; narrow?: boolean; title?: string };
  dark?: boolean;
}

export interface SignerCall {
  method: string;
  path: string;
  authorization?: string;
  /** Browser-clock ms (the page's possibly faked Date.now() is not visible here: Node's clock). */
  at: number;
  request: Request;
}

export interface FrontendStack {
  double: HomeAssistantDouble;
  user: DoubleUser;
  signer?: RunningSigner;
  browser: Browser;
  /** The browser profile of the latest host page (openHost starts a fresh one). */
  readonly context: BrowserContext;
  /** http://ha.example.test:<port>: Home Assistant (the double) and the host pages. */
  haUrl: string;
  /** http://auth.example.test:<port>: the signer (or a closed port when started with signer: false). */
  signerUrl: string;
  /** http://grafana.example.test:<port>/: answers with the Cookie header it received. */
  serviceUrl: string;
  /** Every request the browser sent to the signer's origin. */
  signerCalls: SignerCall[];
  sessionPosts(): SignerCall[];
  pageErrors: string[];
  /** Console lines of our module ("[jwt-cookie] …") from every host page. */
  consoleLines: string[];
  /** Logs in like Home Assistant's login flow would: a refresh token and a fresh access token (default: `user`). */
  authData(options?: { ttlSeconds?: number; user?: DoubleUser }): Promise<AuthData>;
  openHost(config: HostConfig, options?: { path?: string; viewport?: { width: number; height: number }; clock?: boolean; setup?: (page: Page) => Promise<void> }): Promise<Page>;
  close(): Promise<void>;
}

function contentType(file: string): string {
  return file.endsWith(".html") ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startService(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ host: req.headers.host, cookie: req.headers.cookie ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export async function startFrontendStack(
  options: { signer?: boolean; signerEnv?: Record<string, string> } = {},
): Promise<FrontendStack> {
  const pages: Record<string, { contentType: string; body: string | Uint8Array }> = {};
  const double = await startHomeAssistantDouble({ pages });
  const haUrl = `http://${HA_HOST}:${double.port}`;
  const user = double.addUser({ name: "Paulus Schoutsen", username: "paulus", is_admin: true, is_owner: false });

  const host = readFileSync(`${root}/test/frontend/host/index.html`, "utf8");
  pages["/"] = { contentType: contentType(".html"), body: host };
  pages["/jwt-cookie"] = { contentType: contentType(".html"), body: host };
  // Where the host's "Log out" reloads to: stands in for Home Assistant's login page (no module there).
  pages["/logged-out"] = { contentType: contentType(".html"), body: "<!DOCTYPE html><title>Log in</title><p>Logged out.</p>" };
  pages["/test/host.js"] = { contentType: contentType(".js"), body: readFileSync(`${root}/test/frontend/host/host.js`, "utf8") };
  pages["/test/bridge.js"] = { contentType: contentType(".js"), body: readFileSync(`${root}/test/frontend/host/bridge.js`, "utf8") };
  const haws = `${root}/node_modules/home-assistant-js-websocket/dist`;
  for (const file of readdirSync(haws).filter((f) => f.endsWith(".js") && !f.startsWith("haws"))) {
    pages[`/haws/${file}`] = { contentType: contentType(file), body: readFileSync(`${haws}/${file}`, "utf8") };
  }
  pages[BUNDLE_PATH] = { contentType: contentType(".js"), body: readFileSync(`${root}/dist/jwt-cookie.js`, "utf8") };

  let signer: RunningSigner | undefined;
  let signerPort: number;
  if (options.signer === false) signerPort = await closedPort();
  else {
    signer = await startWorkerdSigner({
      HA_URL: double.url,
      SIGNING_KEY: await testSigningKey(),
      ALLOWED_ORIGINS: haUrl,
      COOKIE_DOMAIN: ".example.test",
      COOKIE_SECURE: "false",
      RATE_LIMIT: "1000",
      // The frontend tests end sessions on purpose (deactivated users, revoked tokens); the ban
      // guard would then pause new sign-ins, which test/worker/ha-ban-guard.test.ts covers.
      HA_LOGIN_ATTEMPTS_THRESHOLD: "off",
      ...options.signerEnv,
    });
    signerPort = Number(new URL(signer.url).port);
  }
  const signerUrl = `http://${SIGNER_HOST}:${signerPort}`;
  const service = await startService();
  const serviceUrl = `http://${SERVICE_HOST}:${service.port}/`;

  const browser = await launchChromium([
    `--host-resolver-rules=MAP ${HA_HOST} 127.0.0.1, MAP ${SIGNER_HOST} 127.0.0.1, MAP ${SERVICE_HOST} 127.0.0.1, EXCLUDE localhost`,
    // Home Assistant is HTTPS in production: a secure context, so Web Locks exist there too.
    `--unsafely-treat-insecure-origin-as-secure=${haUrl}`,
  ]);
  const signerCalls: SignerCall[] = [];
  const signerOrigin = new URL(signerUrl).origin;
  /** A fresh profile (cookies, storage, clock) for every host page, so tests cannot leak into each other. */
  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    context.on("request", (request) => {
      const url = new URL(request.url());
      if (url.origin !== signerOrigin) return;
      signerCalls.push({ method: request.method(), path: url.pathname, authorization: request.headers()["authorization"], at: Date.now(), request });
    });
    return context;
  }
  let context = await newContext();
  const pageErrors: string[] = [];
  const consoleLines: string[] = [];

  return {
    double,
    user,
    signer,
    browser,
    get context() {
      return context;
    },
    haUrl,
    signerUrl,
    serviceUrl,
    signerCalls,
    sessionPosts: () => signerCalls.filter((c) => c.method === "POST" && c.path === "/session"),
    pageErrors,
    consoleLines,
    async authData({ ttlSeconds, user: who = user } = {}) {
      const clientId = `${haUrl}/`;
      const refresh = double.createRefreshToken(who.id, clientId);
      const response = await fetch(`${double.url}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh.token, client_id: clientId }),
      });
      const token = (await response.json()) as { access_token: string; expires_in: number };
      const expiresIn = ttlSeconds ?? token.expires_in;
      return { hassUrl: haUrl, clientId, refresh_token: refresh.token, access_token: token.access_token, expires_in: expiresIn, expires: Date.now() + expiresIn * 1000 };
    },
    async openHost(config, { path = "/", viewport, clock, setup } = {}) {
      await context.close();
      context = await newContext();
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      page.on("pageerror", (error) => pageErrors.push(error.message));
      page.on("console", (message) => void (message.text().includes("[jwt-cookie]") && consoleLines.push(message.text())));
      if (clock) await page.clock.install();
      await page.addInitScript((value) => {
        (window as unknown as { __host: unknown }).__host = value;
      }, config);
      await setup?.(page);
      await page.goto(`${haUrl}${path}`);
      await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true);
      return page;
    },
    async close() {
      await browser.close().catch(() => undefined);
      await signer?.close().catch(() => undefined);
      await new Promise<void>((resolve) => service.server.close(() => resolve()));
      await double.close();
    },
  };
}

/** Screenshots go to test-results/ always, and to docs/images/ with JWT_COOKIE_SCREENSHOTS=docs. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(`${root}/test-results`, { recursive: true });
  const file = `${root}/test-results/${name}.png`;
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(file, png);
  if (process.env.JWT_COOKIE_SCREENSHOTS === "docs") {
    mkdirSync(`${root}/docs/images`, { recursive: true });
    writeFileSync(`${root}/docs/images/${name}.png`, png);
  }
  return file;
}

/** Decodes a JWT's payload without checking it (tests only). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
}
