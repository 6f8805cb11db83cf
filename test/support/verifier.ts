/** Starts the local verifier under test (worker/verifier-node-server.ts) on a free loopback port. */
import { loadVerifierSettings, type VerifierSettings } from "../../worker/config.js";
import { startVerifierServer, type RunningVerifier } from "../../worker/verifier-node-server.js";
import { freePort } from "../proxies/support/processes.js";

export interface VerifierUnderTest extends RunningVerifier {
  url: string;
  settings: VerifierSettings;
  /** Resolves once /healthz says it is serving (policy, keys and deny-list loaded). */
  ready(): Promise<void>;
}

export async function startVerifier(signerUrl: string, env: Record<string, string> = {}): Promise<VerifierUnderTest> {
  const loaded = loadVerifierSettings({ SIGNER_URL: signerUrl, PORT: String(await freePort()), ...env });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const running = await startVerifierServer(loaded.settings);
  const url = `http://127.0.0.1:${running.port}`;
  return {
    ...running,
    url,
    settings: loaded.settings,
    async ready() {
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (running.runtime.current()) return;
        if (Date.now() > deadline) throw new Error(`verifier not ready: ${JSON.stringify(running.runtime.health(Date.now()))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
