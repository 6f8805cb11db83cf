/**
 * The Node signer's deny-list on disk (DATA_DIR/revoked-sessions.jsonl): one JSON line per
 * sign-out, appended and fdatasync'ed before /logout answers, so a crash loses nothing the
 * signer acknowledged. On start the file is read (a torn last line from a crash mid-write
 * is skipped), expired entries are dropped, and the rest is written to a new file that
 * replaces the old one atomically (write, fsync, rename). Only the Node entry uses node:fs.
 */
import { mkdir, open, readFile, rename, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { RevokedSession } from "./tokens/revocation-feed.js";
import type { RevocationStore } from "./tokens/revocation-list.js";
import { refusedFromMs } from "./tokens/verify.js";

export const REVOCATION_FILE = "revoked-sessions.jsonl";

function parseLine(line: string): RevokedSession | undefined {
  try {
    const e = JSON.parse(line) as Partial<RevokedSession>;
    if (typeof e.jti === "string" && e.jti !== "" && Number.isFinite(e.exp) && Number.isFinite(e.revokedAt)) {
      return { jti: e.jti, exp: e.exp!, revokedAt: e.revokedAt! };
    }
  } catch {
    // a torn line (crash mid-append) or foreign text: skipped
  }
  return undefined;
}

const lineOf = (e: RevokedSession) => `${JSON.stringify({ jti: e.jti, exp: e.exp, revokedAt: e.revokedAt })}\n`;

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface RevocationFile {
  store: RevocationStore;
  /** The unexpired sign-outs the file held at start. */
  restored: RevokedSession[];
  /** Lines skipped at start (torn or not ours). */
  skipped: number;
  close(): Promise<void>;
}

export async function openRevocationFile(dataDir: string, nowMs: number): Promise<RevocationFile> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, REVOCATION_FILE);
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const restored: RevokedSession[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const entry = parseLine(line);
    if (!entry) skipped++;
    else if (refusedFromMs(entry.exp) > nowMs) restored.push(entry);
  }
  // Compact: only what is still useful, through a new file so a crash here leaves the old one whole.
  const fresh = `${path}.new`;
  const writer = await open(fresh, "w", 0o600);
  try {
    await writer.writeFile(restored.map(lineOf).join(""));
    await writer.sync();
  } finally {
    await writer.close();
  }
  await rename(fresh, path);
  await syncDirectory(dataDir);

  const handle: FileHandle = await open(path, "a", 0o600);
  // One append at a time, each on disk before the next, in order.
  let queue: Promise<void> = Promise.resolve();
  // A failed append (disk full, I/O error) may have left part of its line in the file; the
  // next line must start on a line of its own, or it is glued to that part and skipped at start.
  let torn = false;
  return {
    restored,
    skipped,
    store: {
      description: path,
      append(entry) {
        const write = queue.catch(() => undefined).then(async () => {
          const line = lineOf(entry);
          await handle.appendFile(torn ? `\n${line}` : line).catch((error: unknown) => {
            torn = true;
            throw error;
          });
          torn = false;
          await handle.datasync();
        });
        queue = write;
        return write;
      },
    },
    close: () => queue.catch(() => undefined).then(() => handle.close()),
  };
}
