/**
 * Key rotation with the key tool: `keygen --rotate` makes a new key and the
 * PREVIOUS_PUBLIC_KEYS that keep the old public key accepted. Old cookies keep working at
 * /verify and the old key stays in the JWKS until it is removed; then they are refused.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHomeAssistantDouble, type HomeAssistantDouble } from "../ha-double/index.js";
import { RUNTIMES, startSigner } from "../support/signer.js";

interface KeygenOutput {
  SIGNING_KEY: string;
  PREVIOUS_PUBLIC_KEYS?: string;
  kid: string;
}

function keygen(args: string[], env: Record<string, string> = {}): KeygenOutput {
  const out = execFileSync(process.execPath, ["--import", "tsx", "scripts/keygen.ts", "--json", ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
  });
  return JSON.parse(out) as KeygenOutput;
}

let first: KeygenOutput;
let rotated: KeygenOutput;
beforeAll(() => {
  first = keygen([]);
  rotated = keygen(["--rotate"], { SIGNING_KEY: first.SIGNING_KEY });
});

describe.each(RUNTIMES)("key rotation on %s", (runtime) => {
  let ha: HomeAssistantDouble;
  beforeAll(async () => {
    ha = await startHomeAssistantDouble();
  });
  afterAll(() => ha.close());

  test("old cookies verify during the grace period and are refused after it", async () => {
    expect(rotated.kid).not.toBe(first.kid);
    expect(JSON.parse(rotated.PREVIOUS_PUBLIC_KEYS!).keys.map((k: { kid: string }) => k.kid)).toEqual([first.kid]);
    expect(rotated.PREVIOUS_PUBLIC_KEYS).not.toContain('"d"');

    const user = ha.addUser({ name: "rotating" });
    const base = { HA_URL: ha.url, COOKIE_SECURE: "false" };
    const before = await startSigner(runtime, { ...base, SIGNING_KEY: first.SIGNING_KEY });
    const issued = await fetch(`${before.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(user.id)}` } });
    const oldCookie = issued.headers.get("set-cookie")!.split(";")[0]!;
    await before.close();

    const during = await startSigner(runtime, { ...base, SIGNING_KEY: rotated.SIGNING_KEY, PREVIOUS_PUBLIC_KEYS: rotated.PREVIOUS_PUBLIC_KEYS! });
    try {
      expect((await fetch(`${during.url}/verify`, { headers: { Cookie: oldCookie } })).status).toBe(200);
      const jwks = (await (await fetch(`${during.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid)).toEqual([rotated.kid, first.kid]);
      // New cookies are signed with the new key only.
      const fresh = await fetch(`${during.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(user.id)}` } });
      const header = JSON.parse(Buffer.from(fresh.headers.get("set-cookie")!.split("=")[1]!.split(".")[0]!, "base64url").toString());
      expect(header.kid).toBe(rotated.kid);
    } finally {
      await during.close();
    }

    const after = await startSigner(runtime, { ...base, SIGNING_KEY: rotated.SIGNING_KEY });
    try {
      expect((await fetch(`${after.url}/verify`, { headers: { Cookie: oldCookie } })).status).toBe(401);
      const jwks = (await (await fetch(`${after.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid)).toEqual([rotated.kid]);
    } finally {
      await after.close();
    }
  });
});
