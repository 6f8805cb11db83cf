/**
 * Starts Debian's Caddy, nginx and HAProxy on loopback with configs from the generator,
 * each in its own temp dir (config, pid, logs, temp files, Caddy's storage) that is removed
 * when it stops.
 */
import { accessSync, constants, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary, startProcess, tempDir, type ManagedProcess } from "./processes.js";

export const CADDY = "/usr/bin/caddy";
export const NGINX = "/usr/sbin/nginx";
export const HAPROXY = "/usr/sbin/haproxy";
/** Debian's libnginx-mod-http-js (njs 0.7.9), for nginx --check native. */
export const NGINX_JS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so";

/** Fails with the Debian package to install when the njs module is missing. */
export function requireNginxJsModule(): void {
  try {
    accessSync(NGINX_JS_MODULE, constants.R_OK);
  } catch {
    throw new Error(`${NGINX_JS_MODULE} is missing: install the Debian package "libnginx-mod-http-js" (apt-get install libnginx-mod-http-js); .ci/run does.`);
  }
}

export interface RunningProxy {
  name: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

function wrap(name: string, process: ManagedProcess, dir: { remove(): void }): RunningProxy {
  return {
    name,
    process,
    stop: async () => {
      await process.stop();
      dir.remove();
    },
  };
}

async function started(name: string, dir: { remove(): void }, start: () => Promise<ManagedProcess>): Promise<RunningProxy> {
  try {
    return wrap(name, await start(), dir);
  } catch (error) {
    dir.remove();
    throw error;
  }
}

/** Caddy with generated site blocks; the test adds only the global options that isolate it. */
export async function startCaddy(siteBlocks: string[], ports: number[]): Promise<RunningProxy> {
  requireBinary(CADDY, "caddy");
  const dir = tempDir("caddy");
  const file = join(dir.path, "Caddyfile");
  // Global options (tests only): no admin API, no HTTPS, storage in the temp dir.
  const global = `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir.path}/data\n}\n\n`;
  writeFileSync(file, global + siteBlocks.join("\n"));
  const env = { ...process.env, HOME: dir.path, XDG_DATA_HOME: `${dir.path}/data`, XDG_CONFIG_HOME: `${dir.path}/config` };
  return started("caddy", dir, () =>
    startProcess({ name: "caddy", command: CADDY, args: ["run", "--config", file, "--adapter", "caddyfile"], env, cwd: dir.path, readyPorts: ports }),
  );
}

/**
 * nginx with generated server blocks inside a minimal main config whose paths are all in
 * the temp dir; `njs` loads the njs module in the main config, as Debian's nginx.conf does.
 */
export async function startNginx(serverBlocks: string[], ports: number[], options: { njs?: boolean } = {}): Promise<RunningProxy> {
  requireBinary(NGINX, "nginx");
  if (options.njs) requireNginxJsModule();
  const dir = tempDir("nginx");
  const servers = join(dir.path, "servers.conf");
  writeFileSync(servers, serverBlocks.join("\n"));
  const conf = join(dir.path, "nginx.conf");
  writeFileSync(
    conf,
    `${options.njs ? `load_module ${NGINX_JS_MODULE};\n` : ""}worker_processes 1;
pid ${dir.path}/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir.path}/client_body;
    proxy_temp_path ${dir.path}/proxy;
    fastcgi_temp_path ${dir.path}/fastcgi;
    uwsgi_temp_path ${dir.path}/uwsgi;
    scgi_temp_path ${dir.path}/scgi;
    include ${servers};
}
`,
  );
  return started("nginx", dir, () =>
    startProcess({ name: "nginx", command: NGINX, args: ["-p", dir.path, "-c", conf, "-e", "stderr", "-g", "daemon off;"], readyPorts: ports }),
  );
}

/** HAProxy with one or more generated config files (-f each), in the foreground (-db). */
/**
 * masterWorker: HAProxy's master-worker mode (-W), as Debian's systemd unit runs it; SIGUSR2
 * to process.pid (the master) reloads: it reads the config files again and starts a new worker.
 */
export async function startHaproxy(configs: string[], ports: number[], options: { masterWorker?: boolean } = {}): Promise<RunningProxy> {
  requireBinary(HAPROXY, "haproxy");
  const dir = tempDir("haproxy");
  const args: string[] = options.masterWorker ? ["-W", "-db"] : ["-db"];
  configs.forEach((config, i) => {
    const file = join(dir.path, `${i}.cfg`);
    writeFileSync(file, config);
    args.push("-f", file);
  });
  return started("haproxy", dir, () => startProcess({ name: "haproxy", command: HAPROXY, args, cwd: dir.path, readyPorts: ports }));
}
