/**
 * What every proxy config must do, as one list of tests run against each real proxy:
 * sign-in redirect for browsers and 401 for scripts without a session; the upstream sees
 * the signer's identity and never a client's own Remote-* headers; forged, expired and
 * misdirected tokens are refused; logout ends access; ACCESS_RULES give 403.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headerSafe } from "../../../worker/http/identity-headers.js";
import { forgeryKit, type ForgeryKit } from "./forged-tokens.js";
import { send, type Reply } from "./http-client.js";
import type { SignerRuntime } from "../../support/signer.js";
import { startVerifier, type VerifierUnderTest } from "../../support/verifier.js";
import { freePort } from "./processes.js";
import type { RunningProxy } from "./proxies.js";
import type { EchoedRequest } from "./upstream.js";
import { ADMIN_HOST, COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./world.js";

export interface ProxyUnderTest {
  world: World;
  /** Where the proxy listens for `host`. */
  port(host: string): number;
  /** The Host header a browser sends for `host` (with the port). */
  authority(host: string): string;
  /** Caddy/nginx/Traefik ask the signer on every request, so a signed-out cookie stops at once. */
  asksSignerPerRequest: boolean;
  /**
   * A local verifier learns sign-outs from the signer's feed: a copied cookie must be
   * refused within this long after the sign-out (its poll interval, plus the time nginx
   * may reuse the verifier's approvals). Unset: it never learns them (HAProxy: a copied
   * cookie lives until exp, docs/haproxy.md).
   */
  signOutDelayMs?: number;
  /**
   * Several values under our cookie name: "signer" = the rule of
   * worker/checking/presented-session.ts (the signer, the local verifier, nginx's njs check);
   * "strict" = exactly one value or refused (HAProxy, which cannot loop over them: docs/haproxy.md).
   */
  plantedCookieRule: "signer" | "strict";
  /** Remote-Name as the upstream receives it (latin1-decoded by Node): every checker writes it as headerSafe does. */
  expectedName(name: string): string;
  stop(): Promise<void>;
}

const BROWSER = { Accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
const API = { Accept: "application/json" };

function uniquePath(): string {
  return `/t/${randomUUID()}`;
}

export function describeProxyContract(label: string, setup: () => Promise<ProxyUnderTest>): void {
  describe(label, () => {
    let proxy: ProxyUnderTest;
    let world: World;
    let userCookie: string;
    let adminCookie: string;
    let kit: ForgeryKit;

    beforeAll(async () => {
      proxy = await setup();
      world = proxy.world;
      // One sign-in after the other: without HA_TOKEN the signer's ban guard holds back a
      // sign-in while another is still waiting for Home Assistant's answer.
      userCookie = await world.cookieFor(world.user);
      adminCookie = await world.cookieFor(world.admin);
      kit = await forgeryKit(world.signingKey, { sub: world.user.id, name: world.user.name, roles: ["user"] });
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    const get = (host: string, path: string, headers: Record<string, string> | Array<[string, string]> = {}, method = "GET"): Promise<Reply> =>
      send(proxy.port(host), { host: proxy.authority(host), path, headers, method });
    const reached = (path: string): EchoedRequest | undefined => world.upstream.received.find((r) => r.url === path);
    const echoed = (reply: Reply): EchoedRequest => {
      expect(reply.status, reply.body).toBe(200);
      expect(reply.headers["x-echo"]).toBe("upstream");
      return JSON.parse(reply.body) as EchoedRequest;
    };

    it("sends a browser without a session to the sign-in page, with the exact URL as rd", async () => {
      const path = `${uniquePath()}?orgId=1&from=now-6h&q=a%2Fb+c%26d`;
      const reply = await get(OPEN_HOST, path, BROWSER);
      expect(reply.status, reply.body).toBe(302);
      const location = new URL(String(reply.headers.location));
      expect(`${location.origin}${location.pathname}`).toBe(`${world.publicUrl}/login`);
      expect(location.searchParams.get("rd")).toBe(`http://${proxy.authority(OPEN_HOST)}${path}`);
      expect(reached(path)).toBeUndefined();
    });

    it("answers 401 to scripts and to non-navigations without a session", async () => {
      const path = uniquePath();
      expect((await get(OPEN_HOST, path, API)).status).toBe(401);
      expect((await get(OPEN_HOST, path, {})).status).toBe(401);
      expect((await get(OPEN_HOST, path, BROWSER, "POST")).status).toBe(401);
      expect(reached(path)).toBeUndefined();
    });

    it("lets a signed-in user through with the signer's identity headers", async () => {
      const path = uniquePath();
      const seen = echoed(await get(OPEN_HOST, path, { ...BROWSER, Cookie: `${COOKIE_NAME}=${userCookie}` }));
      expect(seen.url).toBe(path);
      expect(seen.headers["remote-user"]).toBe(world.user.id);
      expect(seen.headers["remote-name"]).toBe(proxy.expectedName(world.user.name));
      expect(seen.headers["remote-groups"]).toBe("user");
      const admin = echoed(await get(OPEN_HOST, uniquePath(), { ...API, Cookie: `other=1; ${COOKIE_NAME}=${adminCookie}` }));
      expect(admin.headers["remote-user"]).toBe(world.admin.id);
      expect(admin.headers["remote-groups"]).toBe("user,admin");
    });

    it("keeps a Home Assistant user name with CR/LF from injecting headers", async () => {
      const eve = world.ha.addUser({ name: "Eve\r\nRemote-User: someone-else\r\nX-Evil: 1", username: `eve-${randomUUID()}`, password: "pw" });
      const seen = echoed(await get(OPEN_HOST, uniquePath(), { Cookie: `${COOKIE_NAME}=${await world.cookieFor(eve)}` }));
      expect(seen.headers["remote-user"]).toBe(eve.id);
      expect(String(seen.headers["remote-name"])).not.toMatch(/[\r\n]/);
      expect(String(seen.headers["remote-name"])).toContain("Eve");
      expect(seen.headers["x-evil"]).toBeUndefined();
    });

    it("writes Remote-Name as the signer does: non-ASCII and % encoded, cut at 256 characters between whole characters", async () => {
      // 21 characters per "€😀" once encoded: the prefixes move the 256-character cut across
      // both characters' escapes; "\ud800" is a lone surrogate (U+FFFD at the signer).
      const names = [
        ...["", "a", "abcde", "Zoë \"100%\" <b>&\\ \ud800 "].map((prefix) => prefix + "€😀".repeat(30)),
        // Printable ASCII around what HAProxy writes as it is (no "%", at most 256 characters;
        // HTTP drops a value's leading and trailing spaces on the way, so none at the ends).
        "! \"#$&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
        "x".repeat(256),
        "y".repeat(257),
        "100% sure",
        "tab\there, del\u007f, nul\u0000",
        // A regex's "$" also matches before a final line feed (PCRE): never a name of its own.
        "line feed at the end\n",
      ];
      for (const name of names) {
        const someone = world.ha.addUser({ name, username: `n-${randomUUID()}`, password: "pw" });
        const seen = echoed(await get(OPEN_HOST, uniquePath(), { Cookie: `${COOKIE_NAME}=${await world.cookieFor(someone)}` }));
        expect(seen.headers["remote-name"], JSON.stringify(name.slice(0, 20))).toBe(proxy.expectedName(name));
      }
    });

    it("accepts the JWT as Authorization: Bearer for scripts", async () => {
      const seen = echoed(await get(OPEN_HOST, uniquePath(), { ...API, Authorization: `Bearer ${adminCookie}` }));
      expect(seen.headers["remote-user"]).toBe(world.admin.id);
    });

    it("never passes Remote-* headers that the client sent itself", async () => {
      const forged: Array<[string, string]> = [
        ["Remote-User", world.admin.id],
        ["remote-name", "Mallory"],
        ["REMOTE-GROUPS", "user,admin,owner"],
        ["Remote_User", world.admin.id],
        ["Remote_Groups", "admin"],
        // Never set by us, but trusted by upstreams set up for Authelia (Grafana's auth proxy, e.g.).
        ["Remote-Email", "admin@example.com"],
        ["remote_email", "admin@example.com"],
      ];
      const seen = echoed(await get(OPEN_HOST, uniquePath(), [["Cookie", `${COOKIE_NAME}=${userCookie}`], ...forged]));
      expect(seen.headers["remote-user"]).toBe(world.user.id);
      expect(seen.headers["remote-name"]).toBe(proxy.expectedName(world.user.name));
      expect(seen.headers["remote-groups"]).toBe("user");
      // Exactly one of each, and no underscore spelling (HAProxy sends names in lower case).
      const names = seen.headerNames.filter((name) => /^remote[-_]/i.test(name)).map((name) => name.toLowerCase());
      expect(names.sort()).toEqual(["remote-groups", "remote-name", "remote-user"]);
      // Without a session the forged headers reach nothing at all.
      const path = uniquePath();
      expect((await get(OPEN_HOST, path, [["Accept", "application/json"], ...forged])).status).toBe(401);
      expect(reached(path)).toBeUndefined();
    });

    it("refuses forged, expired and misdirected tokens, as cookie and as Bearer", async () => {
      // Control: a token made the same way but valid passes, so each refusal below is for its one flaw.
      echoed(await get(OPEN_HOST, uniquePath(), { Cookie: `${COOKIE_NAME}=${await kit.signed()}` }));
      for (const [flaw, token] of await kit.forgeries(userCookie)) {
        const path = uniquePath();
        const asCookie = await get(OPEN_HOST, path, { ...API, Cookie: `${COOKIE_NAME}=${token}` });
        expect(asCookie.status, `${flaw} (cookie)`).toBe(401);
        const asBearer = await get(OPEN_HOST, path, { ...API, Authorization: `Bearer ${token}` });
        expect(asBearer.status, `${flaw} (Bearer)`).toBe(401);
        const browser = await get(OPEN_HOST, path, { ...BROWSER, Cookie: `${COOKIE_NAME}=${token}` });
        expect(browser.status, `${flaw} (browser)`).toBe(302);
        expect(reached(path), flaw).toBeUndefined();
      }
    });

    it("refuses two different cookies under the signer's name (a planted parent-domain cookie)", async () => {
      const path = uniquePath();
      const reply = await get(OPEN_HOST, path, { ...API, Cookie: `${COOKIE_NAME}=${userCookie}; ${COOKIE_NAME}=${adminCookie}` });
      expect(reply.status).toBe(401);
      expect(reached(path)).toBeUndefined();
    });

    it("ignores planted cookies under the signer's name that do not verify (or are the same user's), beside the user's valid one", async () => {
      // The rule of worker/checking/presented-session.ts: garbage, forgeries and expired values
      // are ignored, so a sibling host cannot lock the user out with them.
      const forged = (await kit.forgeries(userCookie)).find(([flaw]) => flaw === "signed with another key (the signer's kid)")![1];
      const expired = await kit.signed({ iat: Math.floor(Date.now() / 1000) - 7200, nbf: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 });
      // A second valid session of the same user (an older cookie with another Path) is no conflict either.
      const sameUser = await kit.signed();
      for (const cookie of [
        `${COOKIE_NAME}=garbage; ${COOKIE_NAME}=${userCookie}`,
        `${COOKIE_NAME}=${forged}; ${COOKIE_NAME}=${userCookie}`,
        `${COOKIE_NAME}=${userCookie}; ${COOKIE_NAME}=${expired}`,
        `${COOKIE_NAME}=${sameUser}; ${COOKIE_NAME}=${userCookie}`,
        `${COOKIE_NAME}=; ${COOKIE_NAME}=${userCookie}; ${COOKIE_NAME}=${userCookie}`,
      ]) {
        const path = uniquePath();
        const reply = await get(OPEN_HOST, path, { ...API, Cookie: cookie });
        if (proxy.plantedCookieRule === "signer") expect(echoed(reply).headers["remote-user"], cookie.slice(0, 80)).toBe(world.user.id);
        else expect(reply.status, cookie.slice(0, 80)).toBe(401); // HAProxy's own check refuses any second value (docs/haproxy.md)
      }
    });

    it("of one user's valid values, the newest (highest iat) counts; a planted value never makes a Bearer token count", async () => {
      const now = Math.floor(Date.now() / 1000);
      // The older value carries admin rights, the newer one does not: Remote-Groups tells which counted.
      const older = await kit.signed({ iat: now - 120, nbf: now - 120, roles: ["user", "admin"] });
      const newer = await kit.signed({ iat: now - 60, nbf: now - 60, roles: ["user"] });
      // Same iat: the higher exp counts.
      const longer = await kit.signed({ iat: now - 60, nbf: now - 60, exp: now + 900, roles: ["user", "owner"] });
      for (const [cookie, groups] of [
        [`${COOKIE_NAME}=${older}; ${COOKIE_NAME}=${newer}`, "user"],
        [`${COOKIE_NAME}=${newer}; ${COOKIE_NAME}=${older}`, "user"],
        [`${COOKIE_NAME}=${newer}; ${COOKIE_NAME}=${longer}`, "user,owner"],
      ] as const) {
        const reply = await get(OPEN_HOST, uniquePath(), { ...API, Cookie: cookie });
        if (proxy.plantedCookieRule === "signer") expect(echoed(reply).headers["remote-groups"]).toBe(groups);
        else expect(reply.status).toBe(401);
      }
      // A value under our name that does not verify: refused, whatever valid Bearer token comes with it.
      const path = uniquePath();
      expect((await get(OPEN_HOST, path, { ...API, Cookie: `${COOKIE_NAME}=garbage`, Authorization: `Bearer ${userCookie}` })).status).toBe(401);
      expect(reached(path)).toBeUndefined();
    });

    it("looks at no more than 8 distinct values under the signer's name", async () => {
      const planted = (n: number) => Array.from({ length: n }, (_, i) => `${COOKIE_NAME}=planted${i}`).join("; ");
      const seven = await get(OPEN_HOST, uniquePath(), { ...API, Cookie: `${planted(7)}; ${COOKIE_NAME}=${userCookie}` });
      if (proxy.plantedCookieRule === "signer") expect(echoed(seven).headers["remote-user"]).toBe(world.user.id);
      else expect(seven.status).toBe(401);
      // The valid one is the ninth distinct value: not looked at.
      const path = uniquePath();
      expect((await get(OPEN_HOST, path, { ...API, Cookie: `${planted(8)}; ${COOKIE_NAME}=${userCookie}` })).status).toBe(401);
      expect(reached(path)).toBeUndefined();
    });

    it("denies again after logout", async () => {
      const cookie = await world.cookieFor(world.user);
      echoed(await get(OPEN_HOST, uniquePath(), { Cookie: `${COOKIE_NAME}=${cookie}` }));
      await world.logout(cookie);
      // The browser dropped the cleared cookie: back to the sign-in page.
      expect((await get(OPEN_HOST, uniquePath(), BROWSER)).status).toBe(302);
      const replay = () => get(OPEN_HOST, uniquePath(), { ...API, Cookie: `${COOKIE_NAME}=${cookie}` });
      if (proxy.asksSignerPerRequest) expect((await replay()).status).toBe(401); // the signer's deny-list
      else if (proxy.signOutDelayMs !== undefined) {
        // The verifier's copy of the deny-list: refused after the next poll, and after nginx's
        // copy of an approval has run out (2 s of slack on a shared machine).
        const deadline = Date.now() + proxy.signOutDelayMs + 2000;
        let status = (await replay()).status;
        while (status !== 401 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, proxy.signOutDelayMs! / 4));
          status = (await replay()).status;
        }
        expect(status).toBe(401);
      } else expect([200, 401]).toContain((await replay()).status); // HAProxy: a copied cookie lives until exp (docs/haproxy.md)
    });

    it("applies ACCESS_RULES: the admin-only host gives a non-admin 403 and lets an admin in", async () => {
      const path = uniquePath();
      const api = await get(ADMIN_HOST, path, { ...API, Cookie: `${COOKIE_NAME}=${userCookie}` });
      expect(api.status).toBe(403);
      const page = await get(ADMIN_HOST, path, { ...BROWSER, Cookie: `${COOKIE_NAME}=${userCookie}` });
      expect(page.status).toBe(403);
      expect(page.body).toContain("needs the role admin");
      expect(reached(path)).toBeUndefined();
      const seen = echoed(await get(ADMIN_HOST, uniquePath(), { Cookie: `${COOKIE_NAME}=${adminCookie}` }));
      expect(seen.headers["remote-groups"]).toBe("user,admin");
      // Without a session the admin host signs in like any other.
      expect((await get(ADMIN_HOST, uniquePath(), BROWSER)).status).toBe(302);
    });

    it("cannot be talked out of ACCESS_RULES with another Host or X-Forwarded-Host", async () => {
      const path = uniquePath();
      const headers = { ...API, Cookie: `${COOKIE_NAME}=${userCookie}`, "X-Forwarded-Host": proxy.authority(OPEN_HOST) };
      const reply = await send(proxy.port(ADMIN_HOST), { host: `unknown.example.test:${proxy.port(ADMIN_HOST)}`, path, headers });
      const viaForwarded = await get(ADMIN_HOST, path, headers);
      expect(viaForwarded.status).toBe(403);
      // Whatever the proxy does with an unknown host, the admin-only upstream is not reached as this user.
      expect(reply.status === 200 && reply.headers["x-echo"] === "upstream" && reached(path)?.headers.host?.includes(ADMIN_HOST)).toBeFalsy();
    });
  });
}

/** Remote-Name as the signer's /verify writes it (percent-encoded non-ASCII). */
export const forwardAuthName = (name: string): string => headerSafe(name);

export interface LocalVerifierOptions {
  /** REVOCATIONS_POLL, in ms. */
  pollMs: number;
  /**
   * PROXY_APPROVAL_CACHE, in seconds, for a proxy that honours it (nginx's generated config).
   * Unset: the verifier's default, which Caddy must ignore (its sign-out row would fail).
   */
  proxyCacheSeconds?: number;
}

/**
 * A forward-auth proxy (Caddy, nginx) on one loopback port for both test hosts, in front of
 * a fresh world: `start` gets the world and the port and starts the proxy with its config.
 */
export async function forwardAuthProxyUnderTest(
  runtime: SignerRuntime,
  start: (world: World, port: number, checkUrl: string) => Promise<RunningProxy>,
  options: { localVerifier?: LocalVerifierOptions } = {},
): Promise<ProxyUnderTest> {
  const world = await startWorld(runtime);
  let verifier: VerifierUnderTest | undefined;
  try {
    // --check local: the proxy's forward auth goes to a local verifier, which alone talks to the signer.
    if (options.localVerifier) {
      const { pollMs, proxyCacheSeconds } = options.localVerifier;
      verifier = await startVerifier(world.signer.url, {
        REVOCATIONS_POLL: `${pollMs}ms`,
        ...(proxyCacheSeconds !== undefined ? { PROXY_APPROVAL_CACHE: `${proxyCacheSeconds}s` } : {}),
      });
      await verifier.ready();
    }
    const port = await freePort();
    const proxy = await start(world, port, verifier?.url ?? world.signer.url);
    return {
      world,
      port: () => port,
      authority: (host) => `${host}:${port}`,
      asksSignerPerRequest: !verifier,
      plantedCookieRule: "signer",
      ...(options.localVerifier ? { signOutDelayMs: options.localVerifier.pollMs + (options.localVerifier.proxyCacheSeconds ?? 0) * 1000 } : {}),
      expectedName: forwardAuthName,
      stop: async () => {
        await proxy.stop();
        await verifier?.close();
        await world.close();
      },
    };
  } catch (error) {
    await verifier?.close();
    await world.close();
    throw error;
  }
}
