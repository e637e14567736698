/**
 * The embedded default's KEK: a JSON file under DATA_DIR (mode 0600; looser permissions stop the
 * service). It holds versions of a 256-bit key; DEKs are wrapped with AES-256-GCM under the current
 * version, the version bound into the authenticated data. A version added by `npm run keys:rotate`
 * takes effect without restart: the file is re-read when it changes. `current()` looks at the file
 * every time; `wrap` and `unwrap` at most every RECHECK_MS (a stat per sealed PUT with secrets showed
 * in the profile, ~25 µs under load), so a rotation reaches new DEKs, and a disabled version stops
 * unwrapping, within a second: well inside the KEK_REFRESH_SECONDS (default 60 s) the Key Vault
 * provider is allowed (docs/design/encryption.md, "Rotation without downtime").
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "../crypto/random-pool.js";
import { KeyRefusedError, type KekRef, type KeyProvider, type WrappedKey } from "../ports/key-provider.js";

interface KeyFileVersion {
  key: string;
  createdAt: string;
  enabled: boolean;
}

export interface KeyFile {
  name: string;
  current: string;
  versions: Record<string, KeyFileVersion>;
}

export class InsecureKeyFileError extends Error {
  constructor(file: string, mode: number) {
    super(`refusing to use ${file}: its permissions are ${(mode & 0o777).toString(8)}, they must be 600 (chmod 600 ${file})`);
    this.name = "InsecureKeyFileError";
  }
}

const newVersion = (): KeyFileVersion => ({ key: crypto.randomBytes(32).toString("base64"), createdAt: new Date().toISOString(), enabled: true });

function writeKeyFile(file: string, content: KeyFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  // durable before visible: a crash must never leave the only copy of the KEK empty or torn
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(content, null, 2));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file); // atomic: a reader sees the old file or the new one
  const dir = fs.openSync(path.dirname(file), "r");
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/** creates the file with one version when absent */
export function ensureKeyFile(file: string): void {
  if (fs.existsSync(file)) return;
  const version = crypto.randomBytes(8).toString("hex");
  writeKeyFile(file, { name: "local-kek", current: version, versions: { [version]: newVersion() } });
}

/** adds a version and makes it current; returns it */
export function rotateKeyFile(file: string): string {
  ensureKeyFile(file);
  const content = JSON.parse(fs.readFileSync(file, "utf8")) as KeyFile;
  const version = crypto.randomBytes(8).toString("hex");
  content.versions[version] = newVersion();
  content.current = version;
  writeKeyFile(file, content);
  return version;
}

/** marks a version disabled: nothing wrapped under it unwraps any more */
export function disableKeyVersion(file: string, version: string): void {
  const content = JSON.parse(fs.readFileSync(file, "utf8")) as KeyFile;
  const entry = content.versions[version];
  if (!entry) throw new Error(`no key version ${version}`);
  if (content.current === version) throw new Error("the current version cannot be disabled; rotate first");
  entry.enabled = false;
  writeKeyFile(file, content);
}

const IV = 12;
const TAG = 16;
/** how stale wrap and unwrap may see the file */
export const RECHECK_MS = 1000;
const aad = (kek: KekRef): Buffer => Buffer.from(`kcrp-dek-wrap\n${kek.name}\n${kek.version}`);

/**
 * Whether the file changed since it was loaded, without reading it: the modification time alone misses a
 * rewrite in the same clock tick (file times come from the kernel's coarse clock, a few milliseconds per
 * tick: two writes in a row mostly get the same mtime), so a rotation right after a load went unseen
 * until the next change. Every write replaces the file by a rename (a new inode), and a rotation or a
 * disabled version changes its size: inode, size and both times together.
 */
const signatureOf = (stat: fs.Stats): string => `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;

export class LocalKeyFileProvider implements KeyProvider {
  readonly kind = "local" as const;
  private content!: KeyFile;
  /** what the file looked like when loaded (see signatureOf) */
  private loadedSignature = "";
  private checkedAt = -Infinity;
  /** the decoded key of each version, for the content as loaded */
  private keys = new Map<string, Buffer>();

  constructor(private readonly file: string) {
    ensureKeyFile(file);
    this.reload();
  }

  private reload(): void {
    const stat = fs.statSync(this.file);
    if ((stat.mode & 0o077) !== 0) throw new InsecureKeyFileError(this.file, stat.mode);
    this.checkedAt = performance.now();
    const signature = signatureOf(stat);
    if (signature === this.loadedSignature) return;
    this.content = JSON.parse(fs.readFileSync(this.file, "utf8")) as KeyFile;
    this.keys = new Map();
    this.loadedSignature = signature;
  }

  /** the file as of at most RECHECK_MS ago */
  private recheck(): void {
    if (performance.now() - this.checkedAt >= RECHECK_MS) this.reload();
  }

  async current(): Promise<KekRef> {
    this.reload();
    return { name: this.content.name, version: this.content.current };
  }

  private keyOf(kek: KekRef): Buffer {
    this.recheck();
    let entry = this.content.versions[kek.version];
    if (!entry) {
      this.reload();
      entry = this.content.versions[kek.version];
    }
    if (!entry || kek.name !== this.content.name) throw new KeyRefusedError(`key ${kek.name}/${kek.version} is unknown`);
    if (!entry.enabled) throw new KeyRefusedError(`key ${kek.name}/${kek.version} is disabled`);
    let key = this.keys.get(kek.version);
    if (!key) {
      key = Buffer.from(entry.key, "base64");
      this.keys.set(kek.version, key);
    }
    return key;
  }

  async wrap(dek: Buffer): Promise<WrappedKey> {
    this.recheck();
    const kek = { name: this.content.name, version: this.content.current };
    const iv = randomBytes(IV);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.keyOf(kek), iv);
    cipher.setAAD(aad(kek));
    const ct = Buffer.concat([cipher.update(dek), cipher.final()]);
    return { kek, wrapped: Buffer.concat([iv, cipher.getAuthTag(), ct]) };
  }

  async unwrap(key: WrappedKey): Promise<Buffer> {
    const kek = this.keyOf(key.kek);
    try {
      const decipher = crypto.createDecipheriv("aes-256-gcm", kek, key.wrapped.subarray(0, IV));
      decipher.setAAD(aad(key.kek));
      decipher.setAuthTag(key.wrapped.subarray(IV, IV + TAG));
      return Buffer.concat([decipher.update(key.wrapped.subarray(IV + TAG)), decipher.final()]);
    } catch (err) {
      throw new KeyRefusedError(`the wrapped key does not unwrap under ${key.kek.name}/${key.kek.version}`, { cause: err });
    }
  }
}
