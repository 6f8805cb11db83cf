/** A config from the generator, exactly as `npm run proxy-config -- <args>` prints it. */
import { generateProxyConfig } from "../../../scripts/proxy-config/generate.js";

export function generated(args: string[], env: Record<string, string>): string {
  const result = generateProxyConfig(args, env);
  if (!result.ok) throw new Error(result.error);
  return result.config;
}

/** The Caddy site block for `host` on a loopback port asking the signer's /verify (--check signer). */
export function caddySite(env: Record<string, string>, host: string, upstream: string, signer: string, port: number): string {
  return generated(["caddy", "--host", host, "--upstream", upstream, "--check", "signer", "--signer", signer, "--listen", `127.0.0.1:${port}`], env);
}

/** The Caddy site block for `host` on a loopback port asking the local verifier's /verify (--check local). */
export function caddyLocalSite(env: Record<string, string>, host: string, upstream: string, verifier: string, port: number): string {
  return generated(["caddy", "--host", host, "--upstream", upstream, "--check", "local", "--verifier", verifier, "--listen", `127.0.0.1:${port}`], env);
}
