/**
 * Raw access to what a store engine holds, bypassing the service: the bytes of the SQLite files
 * (main database, WAL, shared memory, rollback journal) and every raw Cosmos item. For at-rest tests.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { CosmosTestServer } from "./cosmos.js";

export const SQLITE_FILE = "store.db";

export interface RawFile {
  name: string;
  bytes: Buffer;
}

/**
 * The store's files as they are on disk right now. Read before any other connection is opened or
 * closed, and with the service's connection still open: nothing checkpoints the WAL into the main
 * file (or deletes it) between the writes and this read, so both copies are seen.
 */
export function readSqliteFiles(dataDir: string): RawFile[] {
  const base = path.join(dataDir, SQLITE_FILE);
  const files: RawFile[] = [];
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    const file = `${base}${suffix}`;
    if (fs.existsSync(file)) files.push({ name: path.basename(file), bytes: fs.readFileSync(file) });
  }
  return files;
}

/** every file under a directory (recursively), for a search of everything the service left on disk */
export function readAllFiles(dir: string): RawFile[] {
  const out: RawFile[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...readAllFiles(full).map((f) => ({ name: path.join(entry.name, f.name), bytes: f.bytes })));
    else if (entry.isFile()) out.push({ name: entry.name, bytes: fs.readFileSync(full) });
  }
  return out;
}

export type SqliteRow = Record<string, unknown>;

/** a second, read-only connection (the service's stays open, so closing this one checkpoints nothing) */
export function sqliteRows(dataDir: string, table = "documents"): SqliteRow[] {
  const db = new Database(path.join(dataDir, SQLITE_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT * FROM "${table}"`).all() as SqliteRow[];
  } finally {
    db.close();
  }
}

export function sqliteSchema(dataDir: string): Record<string, string[]> {
  const db = new Database(path.join(dataDir, SQLITE_FILE), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>;
    return Object.fromEntries(tables.map(({ name }) => [name, (db.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string }>).map((c) => c.name)]));
  } finally {
    db.close();
  }
}

/** runs a write against the store file from outside the service (tampering, transplanting) */
export function withSqlite<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(dataDir, SQLITE_FILE), { fileMustExist: true });
  db.pragma("busy_timeout = 5000");
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export async function cosmosItems(cosmos: CosmosTestServer, database = "kcrp", container = "resources"): Promise<Record<string, unknown>[]> {
  const { resources } = await cosmos.client().database(database).container(container).items.readAll().fetchAll();
  return resources as Record<string, unknown>[];
}

/**
 * The forms a secret can take in stored bytes: itself, hex, and base64/base64url at each of the
 * three byte alignments (only the characters that depend on the secret alone are kept, so the
 * secret is found inside a longer base64 string whatever precedes it).
 */
export function encodedForms(secret: string): string[] {
  const raw = Buffer.from(secret, "utf8");
  const forms = new Set<string>([secret, raw.toString("hex")]);
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift, 0), raw]).toString("base64");
    const first = Math.ceil((8 * shift) / 6);
    const last = Math.floor((8 * (shift + raw.length) - 6) / 6); // inclusive
    const stable = encoded.slice(first, last + 1);
    if (stable.length >= 8) {
      forms.add(stable);
      forms.add(stable.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms];
}

/** where (file or document, with a little context) any form of the secret occurs; [] when nowhere */
export function findIn(haystacks: Array<{ name: string; text: string | Buffer }>, secret: string): string[] {
  const hits: string[] = [];
  for (const form of encodedForms(secret)) {
    for (const { name, text } of haystacks) {
      const buf = typeof text === "string" ? Buffer.from(text, "utf8") : text;
      const at = buf.indexOf(form, 0, "utf8");
      if (at >= 0) hits.push(`${name}@${at}: ${JSON.stringify(buf.subarray(Math.max(0, at - 40), at + form.length + 40).toString("latin1"))}`);
    }
  }
  return hits;
}
