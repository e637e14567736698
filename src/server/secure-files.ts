/** Files the service creates for itself under DATA_DIR (keys, tokens): owner-only, never world-readable. */
import fs from "node:fs";
import path from "node:path";

export function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Writes a file only its owner can read, atomically (write a temp file, then rename). */
export function writePrivateFile(file: string, content: string | Buffer): void {
  ensureDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Refuses a secret file others can read or write: a leaked key is worse than a failed start. */
export function assertPrivate(file: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${file} has permissions ${mode.toString(8)}; it holds a secret and must not be readable by others (chmod 600)`);
  }
}

export function readPrivateFile(file: string): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  assertPrivate(file);
  return fs.readFileSync(file, "utf8");
}
