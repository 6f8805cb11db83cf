/**
 * The Node signer's deny-list survives a crash (DATA_DIR): a sign-out acknowledged by
 * /logout is on disk before the answer, so SIGKILL right after it and a restart on the same
 * DATA_DIR still refuse the cookie. Start-up tolerates a torn last line and drops expired
 * entries from the file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { startHomeAssistantDouble, type HomeAssistantDouble } from "../ha-double/index.js";
import { freePort } from "../proxies/support/processes.js";
import { testSigningKey } from "../support/signer.js";
import { openRevocationFile, REVOCATION_FILE } from "../../worker/node-revocation-file.js";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("Node signer with DATA_DIR", () => {
  let ha: HomeAssistantDouble;
  let dir: string;
  let env: Record<string, string>;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
    dir = mkdtempSync(join(tmpdir(), "jwt-cookie-data-"));
    env = { HA_URL: ha.url, SIGNING_KEY: await testSigningKey(), COOKIE_SECURE: "false", DATA_DIR: dir, LOCAL_ONLY_CHECK: "off" };
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await ha.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** worker/node.ts in its own process, as in production. */
  async function startProcess(port: number): Promise<{ child: ChildProcess; url: string; output: () => string }> {
    const child = spawn(process.execPath, ["--experimental-websocket", "--import", "tsx", "worker/node.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d));
    child.stderr!.on("data", (d: Buffer) => (output += d));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`signer exited: ${output}`);
      try {
        if ((await fetch(`${url}/healthz`)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`signer did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { child, url, output: () => output };
  }

  const kill = (child: ChildProcess) => new Promise<void>((resolve) => (child.once("exit", () => resolve()), child.kill("SIGKILL")));

  test("revoke, SIGKILL, restart on the same DATA_DIR: the cookie is still refused", async () => {
    const port = await freePort();
    const first = await startProcess(port);
    const health = (await (await fetch(`${first.url}/healthz`)).json()) as { revocation: string };
    expect(health.revocation).toMatch(/^file/);
    expect(first.output()).toContain(`sign-outs are kept in ${dir}`);
    const signIn = await fetch(`${first.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(ha.addUser({ name: "Al" }).id)}` } });
    const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
    const other = (await fetch(`${first.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(ha.addUser({ name: "Bo" }).id)}` } }))
      .headers.get("set-cookie")!
      .split(";")[0]!;
    expect((await fetch(`${first.url}/logout`, { method: "POST", headers: { Cookie: cookie } })).status).toBe(200);
    await kill(first.child); // no clean shutdown

    const second = await startProcess(port);
    try {
      const refused = await fetch(`${second.url}/verify`, { headers: { Cookie: cookie } });
      expect(refused.status).toBe(401);
      expect(await refused.text()).toContain("revoked");
      expect((await fetch(`${second.url}/verify`, { headers: { Cookie: other } })).status).toBe(200);
      // And the feed hands it to local verifiers after the restart too.
      const feed = (await (await fetch(`${second.url}/revocations`)).json()) as { revoked: Array<{ jti: string }> };
      expect(feed.revoked).toHaveLength(1);
    } finally {
      await kill(second.child);
    }
  });

  test("without DATA_DIR the start log says that a restart forgets sign-outs", async () => {
    const saved = env.DATA_DIR;
    delete env.DATA_DIR;
    try {
      const signer = await startProcess(await freePort());
      expect(signer.output()).toMatch(/DATA_DIR is not set: sign-outs are kept in memory only/);
      expect(((await (await fetch(`${signer.url}/healthz`)).json()) as { revocation: string }).revocation).toMatch(/^memory/);
      await kill(signer.child);
    } finally {
      env.DATA_DIR = saved!;
    }
  });
});

test("start-up: a torn last line is skipped, expired entries are compacted away, appends go on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jwt-cookie-data-"));
  try {
    const now = Date.now();
    const live = Math.floor(now / 1000) + 600;
    const path = join(dir, REVOCATION_FILE);
    writeFileSync(
      path,
      [
        JSON.stringify({ jti: "kept", exp: live, revokedAt: now - 5000 }),
        JSON.stringify({ jti: "expired", exp: Math.floor(now / 1000) - 12, revokedAt: now - 9000 }), // past exp + leeway
        JSON.stringify({ jti: "also-kept", exp: live, revokedAt: now - 4000 }),
        '{"jti":"torn","exp":17', // the crash came mid-append
      ].join("\n"),
    );
    const file = await openRevocationFile(dir, now);
    expect(file.restored.map((e) => e.jti)).toEqual(["kept", "also-kept"]);
    expect(file.skipped).toBe(1);
    expect(readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l).jti)).toEqual(["kept", "also-kept"]);
    await file.store.append({ jti: "new", exp: live, revokedAt: now });
    await file.close();
    const again = await openRevocationFile(dir, now);
    expect(again.restored.map((e) => e.jti)).toEqual(["kept", "also-kept", "new"]);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a failed append (disk full mid-line) does not swallow the next acknowledged sign-out", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jwt-cookie-data-"));
  const now = Date.now();
  const live = Math.floor(now / 1000) + 600;
  const file = await openRevocationFile(dir, now);
  // FileHandle's class is not exported: take its prototype from a handle.
  const probe = await open(join(dir, "probe"), "w");
  const fileHandle = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  const realAppend = fileHandle.appendFile;
  const diskFull = vi.spyOn(fileHandle, "appendFile").mockImplementationOnce(async function (this: FileHandle, data) {
    await realAppend.call(this, String(data).slice(0, 12)); // part of the line reached the disk
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  });
  try {
    // Not acknowledged: /logout answers an error for it.
    await expect(file.store.append({ jti: "failed", exp: live, revokedAt: now })).rejects.toThrow(/ENOSPC/);
    diskFull.mockRestore();
    // Acknowledged (space is free again): it must survive a restart.
    await file.store.append({ jti: "acknowledged", exp: live, revokedAt: now + 1 });
    await file.close();
    const again = await openRevocationFile(dir, now);
    expect(again.restored.map((e) => e.jti)).toEqual(["acknowledged"]);
    expect(again.skipped).toBe(1); // the torn part of "failed"
    await again.close();
  } finally {
    diskFull.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
});
