/** Reads and writes .dev.vars (KEY="value" lines, as wrangler reads them); gitignored. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export function readDevVars(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    if (value.startsWith('"') && value.endsWith('"')) value = JSON.parse(value) as string;
    vars[match[1]!] = value;
  }
  return vars;
}

export function writeDevVars(path: string, vars: Record<string, string>): void {
  const body = Object.entries(vars)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join("\n");
  writeFileSync(path, `# Local settings for the signer (npm start / npm run start:node). Never commit this file.\n${body}\n`, { mode: 0o600 });
}
