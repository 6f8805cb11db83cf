/**
 * HAProxy's generated config verifies a token's signature once per process and remembers
 * the SHA-256 of the whole token in a stick table (scripts/proxy-config/haproxy.ts,
 * docs/haproxy.md). What makes that safe, against the real HAProxy: only a token whose
 * signature verified is ever written in (a forgery is verified, and refused, every time),
 * every other check still runs on every request, and a reload forgets everything, so a key
 * removed in a rotation stops working at the reload. The table is read through HAProxy's
 * runtime API on a stats socket that only this test adds.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../worker/tokens/keys.js";
import { forgeryKit, type ForgeryKit } from "./support/forged-tokens.js";
import { generated } from "./support/generated.js";
import { send, type Reply } from "./support/http-client.js";
import { freePort, tempDir } from "./support/processes.js";
import { startHaproxy, type RunningProxy } from "./support/proxies.js";
import type { EchoedRequest } from "./support/upstream.js";
import { COOKIE_NAME, OPEN_HOST, startWorld, type World } from "./support/world.js";

/** The frontend, and so the table, the generator names for OPEN_HOST. */
const TABLE = "jwt_cookie_grafana_example_test";

const sha256 = (token: string): string => createHash("sha256").update(token).digest("hex").toUpperCase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One command on HAProxy's runtime API at `socket`; HAProxy closes the connection after its answer. */
function runtimeApi(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = connect(socket);
    let answer = "";
    connection.setEncoding("utf8");
    connection.on("data", (chunk: string) => (answer += chunk));
    connection.on("end", () => resolve(answer));
    connection.on("error", reject);
    connection.setTimeout(5000, () => connection.destroy(new Error(`no answer to "${command}" within 5 s`)));
    connection.write(`${command}\n`);
  });
}

interface MemorySetup {
  world: World;
  haproxy: RunningProxy;
  pem: string;
  socket: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * The generated config for OPEN_HOST against a Node signer, changed by `edit`, plus a runtime
 * API socket that only this test adds and `extra` configuration.
 */
async function startMemorySetup(label: string, options: { edit?: (config: string) => string; extra?: string; masterWorker?: boolean } = {}): Promise<MemorySetup> {
  const world = await startWorld("node");
  const dir = tempDir(label);
  try {
    const pem = join(dir.path, "jwt-cookie.pem");
    const socket = join(dir.path, "admin.sock");
    writeFileSync(pem, await (await fetch(`${world.signer.url}/public-key.pem`)).text());
    const port = await freePort();
    const config = generated(["haproxy", "--host", OPEN_HOST, "--upstream", world.upstream.url, "--listen", `127.0.0.1:${port}`, "--pem-path", pem], world.env);
    const runtime = `global\n    stats socket ${socket} level admin\n${options.extra ?? ""}`;
    const haproxy = await startHaproxy([options.edit ? options.edit(config) : config, runtime], [port], { masterWorker: options.masterWorker ?? false });
    return {
      world,
      haproxy,
      pem,
      socket,
      port,
      stop: async () => {
        await haproxy.stop();
        await world.close();
        dir.remove();
      },
    };
  } catch (error) {
    await world.close();
    dir.remove();
    throw error;
  }
}

describe("HAProxy verifies each token's signature once and remembers only verified ones", () => {
  let setup: MemorySetup | undefined;
  let world: World;
  let haproxy: RunningProxy;
  let pem: string;
  let socket: string;
  let port: number;
  let kit: ForgeryKit;

  const api = (command: string): Promise<string> => runtimeApi(socket, command);

  /** The table's entries: SHA-256 (hex) -> gpt0. */
  const remembered = async (): Promise<Map<string, number>> => {
    const answer = await api(`show table ${TABLE}`);
    expect(answer, answer).toMatch(new RegExp(`^# table: ${TABLE}, type: string, size:\\d+, used:\\d+\\n`));
    const entries = new Map<string, number>();
    for (const [, key, gpt0] of answer.matchAll(/ key=(\S+) .* gpt0=(\d+)/g)) entries.set(key!, Number(gpt0));
    return entries;
  };

  const get = (token: string): Promise<Reply> =>
    send(port, { host: `${OPEN_HOST}:${port}`, path: `/t/${Math.random().toString(36).slice(2)}`, headers: { Accept: "application/json", Cookie: `${COOKIE_NAME}=${token}` } });
  const passes = async (token: string): Promise<EchoedRequest> => {
    const reply = await get(token);
    expect(reply.status, reply.body).toBe(200);
    expect(reply.headers["x-echo"]).toBe("upstream");
    return JSON.parse(reply.body) as EchoedRequest;
  };
  const refused = async (token: string): Promise<void> => {
    const reply = await get(token);
    expect(reply.status, reply.body).toBe(401);
    expect(JSON.parse(reply.body)).toMatchObject({ error: "no_session" });
  };

  /** The worker's PID, from the runtime API (the stats socket belongs to the worker). */
  const workerPid = async (): Promise<number> => Number(/^Pid: (\d+)$/m.exec(await api("show info"))?.[1]);
  const running = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    setup = await startMemorySetup("haproxy-memory", { masterWorker: true });
    ({ world, haproxy, pem, socket, port } = setup);
    kit = await forgeryKit(world.signingKey, { sub: world.user.id, name: world.user.name, roles: ["user"] });
  });
  afterAll(async () => {
    await setup?.stop();
  });

  it("verifies a new token, remembers the SHA-256 of the whole token, and takes it again from the table", async () => {
    const token = await world.cookieFor(world.user);
    expect((await remembered()).has(sha256(token))).toBe(false);
    const seen = await passes(token);
    expect(seen.headers["remote-user"]).toBe(world.user.id);
    expect((await remembered()).get(sha256(token))).toBe(1);
    for (let i = 0; i < 3; i++) expect((await passes(token)).headers["remote-user"]).toBe(world.user.id);
    expect((await remembered()).get(sha256(token))).toBe(1);
  });

  it("takes a remembered token without jwt_verify: an entry written by hand lets a forged signature through", async () => {
    // This is why only verified tokens may be written in (the next test). A token differing
    // from a genuine one only in its signature, refused until the table says otherwise.
    const [header, payload, signature] = (await kit.signed()).split(".") as [string, string, string];
    const forged = `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    await refused(forged);
    expect((await api(`set table ${TABLE} key ${sha256(forged)} data.gpt0 1`)).trim()).toBe("");
    try {
      expect((await passes(forged)).headers["remote-user"]).toBe(world.user.id);
    } finally {
      await api(`clear table ${TABLE} key ${sha256(forged)}`);
    }
    await refused(forged);
  });

  it("refuses forged signatures on every repeat and never remembers them, even beside a remembered twin", async () => {
    const genuine = await kit.signed();
    await passes(genuine);
    const before = await remembered();
    expect(before.get(sha256(genuine))).toBe(1);
    // The forgeries that pass every claim check and so reach the signature.
    const flaws = ["tampered payload (roles raised, signature kept)", "tampered signature", "signed with another key (its own kid)", "signed with another key (the signer's kid)"];
    const forgeries = (await kit.forgeries(genuine)).filter(([flaw]) => flaws.includes(flaw));
    expect(forgeries.map(([flaw]) => flaw)).toEqual(flaws);
    for (const [flaw, token] of forgeries) {
      for (let i = 0; i < 3; i++) await refused(token);
      expect((await remembered()).has(sha256(token)), flaw).toBe(false);
    }
    expect(await remembered()).toEqual(before);
    await passes(genuine);
  });

  it("checks the times of a remembered token on every request: refused once it expires", async () => {
    // Valid for about 5 s more (the 10 s leeway), remembered for 10 minutes.
    const now = Math.floor(Date.now() / 1000);
    const exp = now - 5;
    const token = await kit.signed({ iat: now - 60, nbf: now - 60, exp });
    await passes(token);
    expect((await remembered()).get(sha256(token))).toBe(1);
    while (Date.now() / 1000 <= exp + 11) await sleep(250);
    await refused(token);
    expect((await remembered()).get(sha256(token))).toBe(1);
  });

  it("forgets every remembered signature on reload: after a key rotation, the removed key's tokens are refused", async () => {
    const oldKeyToken = await world.cookieFor(world.user);
    await passes(oldKeyToken);
    expect((await remembered()).get(sha256(oldKeyToken))).toBe(1);

    // The rotation as docs/haproxy.md describes it, down to the new key alone: the PEM file
    // now holds only the new public key, then HAProxy reloads (SIGUSR2 to the master).
    const next = await generateKeyPair();
    writeFileSync(pem, next.publicPem);
    const oldWorker = await workerPid();
    process.kill(haproxy.process.pid, "SIGUSR2");
    const deadline = Date.now() + 15_000;
    for (;;) {
      const pid = await workerPid().catch(() => oldWorker);
      if (pid !== oldWorker && !running(oldWorker)) break;
      if (Date.now() > deadline) throw new Error(`HAProxy did not reload within 15 s:\n${haproxy.process.output()}`);
      await sleep(100);
    }

    expect((await remembered()).size).toBe(0);
    await refused(oldKeyToken);
    expect((await remembered()).size).toBe(0);
    const nextKit = await forgeryKit(next.privatePem, { sub: world.user.id, name: world.user.name, roles: ["user"] });
    const newKeyToken = await nextKit.signed();
    expect((await passes(newKeyToken)).headers["remote-user"]).toBe(world.user.id);
    expect([...(await remembered())]).toEqual([[sha256(newKeyToken), 1]]);
  });
});

describe("HAProxy's signature memory beside an operator's own stick counter", () => {
  let setup: MemorySetup | undefined;
  const api = (command: string): Promise<string> => runtimeApi(setup!.socket, command);

  beforeAll(async () => {
    setup = await startMemorySetup("haproxy-memory-sc0", {
      // The usual rate-limit recipe, first thing in the frontend: it takes stick counter 0.
      edit: (config) => {
        const withRateLimit = config.replace(/^(frontend \S+\n\s+bind \S+\n)/m, "$1    http-request track-sc0 src table per_ip\n");
        if (withRateLimit === config) throw new Error("no frontend/bind lines to put the rate limit after");
        return withRateLimit;
      },
      extra: "\nbackend per_ip\n    stick-table type ip size 1k expire 10m store gpt0,http_req_rate(10s)\n",
    });
  });
  afterAll(async () => {
    await setup?.stop();
  });

  it("still remembers verified tokens, and leaves the operator's table's gpt0 alone", async () => {
    const { world, port } = setup!;
    const token = await world.cookieFor(world.user);
    for (let i = 0; i < 2; i++) {
      const reply = await send(port, { host: `${OPEN_HOST}:${port}`, path: "/", headers: { Accept: "application/json", Cookie: `${COOKIE_NAME}=${token}` } });
      expect(reply.status, reply.body).toBe(200);
    }
    expect(await api(`show table ${TABLE}`)).toContain(`key=${sha256(token)} `);
    const perIp = await api("show table per_ip");
    expect(perIp).toMatch(/key=127\.0\.0\.1 /);
    expect(perIp).toMatch(/gpt0=0\b/);
  });
});
