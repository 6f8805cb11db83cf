/**
 * The configs in docs/<proxy>.md come from the generator. Each sits between
 *   <!-- proxy-config: <arguments> -->  and  <!-- /proxy-config -->
 * and is rebuilt from those arguments with the example settings below, so the docs cannot
 * drift from the generator (npm run docs:proxies rewrites them; a test checks them).
 * `<arguments> => jwt-cookie-check.conf` shows nginx native's check server file instead,
 * with a description in place of the version hash (the docs have no signer keys).
 */
import { generateProxyConfig } from "./generate.js";
import { nginxCheckServerConfig, NJS_CHECK_SERVER_FILE } from "./nginx-native.js";

/** The example signer settings every docs page states and its configs are built with. */
export const DOCS_ENV: Record<string, string> = {
  HA_URL: "https://ha.example.com",
  PUBLIC_URL: "https://auth.example.com",
  COOKIE_DOMAIN: ".example.com",
  ACCESS_RULES: '{"admin.example.com":{"roles":["admin"]}}',
};

export const DOC_PAGES = ["docs/caddy.md", "docs/nginx.md", "docs/traefik.md", "docs/haproxy.md"];

const FENCE: Record<string, string> = { caddy: "caddyfile", nginx: "nginx", traefik: "yaml", haproxy: "haproxy" };
const BLOCK = /<!-- proxy-config: ([^\n]*?) -->\n[\s\S]*?<!-- \/proxy-config -->/g;
const DOCS_VERSION = "<sha256 of jwt_cookie.js and jwt-cookie.json: 32 hex digits>";

/** The markdown with every generated block rebuilt; throws when a block's arguments are invalid. */
export function renderGeneratedBlocks(markdown: string): string {
  return markdown.replace(BLOCK, (_block, args: string) => {
    const [command, shown] = args.split(" => ") as [string, string | undefined];
    const argv = command.trim().split(/\s+/);
    const result = generateProxyConfig(argv, DOCS_ENV);
    if (!result.ok) throw new Error(`proxy-config: ${args}\n${result.error}`);
    let text = result.config;
    if (shown !== undefined) {
      if (shown !== NJS_CHECK_SERVER_FILE || result.request.proxy !== "nginx" || result.request.check !== "native") {
        throw new Error(`proxy-config: ${args}\nonly nginx --check native has a file to show after "=>": ${NJS_CHECK_SERVER_FILE}`);
      }
      text = nginxCheckServerConfig(result.request, DOCS_VERSION);
    }
    return `<!-- proxy-config: ${args} -->\n\`\`\`${FENCE[argv[0]!] ?? ""}\n${text.trimEnd()}\n\`\`\`\n<!-- /proxy-config -->`;
  });
}

export function generatedBlockCount(markdown: string): number {
  return [...markdown.matchAll(BLOCK)].length;
}
