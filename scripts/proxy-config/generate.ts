/** Turns a proxy-config command line plus the signer's settings into the config text (and, with --out, the files it references). */
import type { Env } from "../../worker/config.js";
import { caddyConfig } from "./caddy.js";
import { haproxyConfig } from "./haproxy.js";
import { nginxConfig } from "./nginx.js";
import { nginxCheckServerConfig, njsScript, njsSettings, NJS_CHECK_SERVER_FILE, NJS_SCRIPT_FILE, NJS_SETTINGS_FILE, settingsVersion } from "./nginx-native.js";
import { parseProxyConfigArgs, type ProxyConfigRequest } from "./request.js";
import type { SignerKey } from "./signer-keys.js";
import { traefikConfig } from "./traefik.js";

/** A file for the --out directory, by its path inside that directory. */
export interface OutFile {
  path: string;
  content: string;
}

export type GenerateResult =
  | {
      ok: true;
      config: string;
      warnings: string[];
      request: ProxyConfigRequest;
      /** The config's own file name inside --out. */
      configFile: string;
      /** Every other file the config references (written only with --out). */
      files: OutFile[];
    }
  | { ok: false; error: string };

/** HAProxy --out: the key files its config names, one per accepted key. */
export const KEYS_SUBDIR = "keys";

const CONFIG_EXTENSION = { caddy: "caddy", nginx: "conf", haproxy: "cfg", traefik: "yml" } as const;

/** Does this command line need the signer's public keys (fetched by writeProxyConfig)? */
export function needsSignerKeys(request: ProxyConfigRequest): boolean {
  return request.check === "native" && request.out !== undefined;
}

/**
 * The config for `argv`. `keys` are the signer's public keys for --check native with --out
 * (HAProxy gets one PEM file per key, named in its config; nginx gets them in jwt-cookie.json).
 */
export function generateProxyConfig(argv: string[], env: Env, keys?: SignerKey[]): GenerateResult {
  const parsed = parseProxyConfigArgs(argv, env);
  if (!parsed.ok) return parsed;
  const { settings, warnings } = parsed;
  let request = parsed.request;
  const files: OutFile[] = [];
  if (needsSignerKeys(request) && request.proxy === "haproxy" && (!keys || keys.length === 0)) {
    return { ok: false, error: `--out needs the signer's public keys (fetched from ${request.signer}).` };
  }
  // nginx's server block does not depend on the keys (docs show it without them); its
  // script and jwt-cookie.json come with them.
  if (needsSignerKeys(request) && keys && keys.length > 0) {
    if (request.proxy === "haproxy") {
      files.push(...keys.map((key) => ({ path: `${KEYS_SUBDIR}/${key.kid}.pem`, content: key.pem })));
      request = { ...request, pemPaths: keys.map((key) => `${request.out}/${KEYS_SUBDIR}/${key.kid}.pem`) };
    } else {
      const script = njsScript();
      const settingsJson = njsSettings(request, settings, keys);
      files.push(
        { path: NJS_SCRIPT_FILE, content: script },
        { path: NJS_SETTINGS_FILE, content: settingsJson },
        { path: NJS_CHECK_SERVER_FILE, content: nginxCheckServerConfig(request, settingsVersion(script, settingsJson)) },
      );
    }
  }
  const config =
    request.proxy === "caddy"
      ? caddyConfig(request)
      : request.proxy === "nginx"
        ? nginxConfig(request, settings)
        : request.proxy === "haproxy"
          ? haproxyConfig(request, settings)
          : traefikConfig(request);
  return { ok: true, config, warnings, request, configFile: `${request.host}.${CONFIG_EXTENSION[request.proxy]}`, files };
}
