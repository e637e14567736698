/**
 * A typed collection of one document kind: records in, records out, the body passing through the
 * codec (where sealing plugs in). Reads go to the store, writes through the writer seam (writer.ts).
 * `patch` is the one read-modify-write loop (a capped optimistic retry, as ARO-RP's
 * RetryOnPreconditionFailed); `pages` the one continuation loop.
 */
import { errors } from "../arm/errors.js";
import { plainCodec, type BodyCodec } from "../ports/body-codec.js";
import {
  StoreConflictError,
  StorePreconditionFailedError,
  type DocKind,
  type DocumentEnvelope,
  type NewDocument,
  type Page,
  type Store,
  type StoredDocument,
} from "../store/port.js";
import { currentUnit } from "./unit-of-work.js";
import { directWriter, type StoreWriter } from "./writer.js";

/** a document as stored (envelope, etag, body undecoded): what background jobs hand back to conditional steps */
export type { StoredDocument } from "../store/port.js";

export const SCHEMA_VERSION = 1;

/** tries of a `patch` before it gives up: a conflict a re-read cannot resolve fails the request, it never spins */
export const PATCH_ATTEMPTS = 10;

/** another writer got there first (created the same key, or changed the document since it was read) */
export const lostRace = (err: unknown): boolean => err instanceof StoreConflictError || err instanceof StorePreconditionFailedError;

export interface Versioned<T> {
  record: T;
  etag: string;
  deleted: boolean;
  updatedAt: number;
  expiresAt?: number;
}

/** where a document lives and how it is found: its envelope without the kind (the collection's) */
export type Place = Omit<DocumentEnvelope, "kind" | "schemaVersion">;

/** what a collection reads and writes with */
export interface CollectionDeps {
  store: Store;
  writer: StoreWriter;
  codec: BodyCodec;
}

export function collectionDeps(store: Store, codec: BodyCodec = plainCodec, writer: StoreWriter = directWriter(store)): CollectionDeps {
  return { store, writer, codec };
}

/** a list in one partition (`parent` narrows it), or a walk across partitions (`scan`) */
export type PagesQuery = { partition: string; parent?: string; includeDeleted?: boolean } | { scan: true; expired?: boolean };

/** runs `attempt` again when it lost a race, at most `attempts` times; then `exhausted` (a 409 by default) */
export async function retryOnLostRace<R>(attempt: () => Promise<R>, attempts = PATCH_ATTEMPTS, exhausted: () => Error = () => errors.concurrentWrite()): Promise<R> {
  for (let i = 0; i < attempts; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!lostRace(err)) throw err;
    }
  }
  throw exhausted();
}

/** a lost race counts as "not done" (false); anything else is thrown */
export const unlessLostRace = (err: unknown): false => {
  if (lostRace(err)) return false;
  throw err;
};

export class Collection<T extends object> {
  constructor(
    private readonly deps: CollectionDeps,
    readonly kind: DocKind,
  ) {}

  private async encode(place: Place, record: T): Promise<NewDocument> {
    const envelope = { ...place, kind: this.kind };
    const body = await this.deps.codec.encode(envelope, record as Record<string, unknown>);
    return { ...envelope, schemaVersion: SCHEMA_VERSION, body };
  }

  async decode(doc: StoredDocument): Promise<Versioned<T>> {
    const record = (await this.deps.codec.decode(doc, doc.body)) as T;
    return { record, etag: doc.etag, deleted: doc.deleted === true, updatedAt: doc.updatedAt, ...(doc.expiresAt !== undefined ? { expiresAt: doc.expiresAt } : {}) };
  }

  /** the stored document itself, body undecoded (its etag, or a body the caller hands on); as staged, inside a unit of work that wrote it */
  document(key: string, partition: string): Promise<StoredDocument | undefined> {
    const staged = currentUnit()?.read(this.kind, key);
    if (staged) return Promise.resolve("doc" in staged ? staged.doc : undefined);
    return this.deps.store.get(this.kind, key, partition);
  }

  async get(key: string, partition: string): Promise<Versioned<T> | undefined> {
    const doc = await this.document(key, partition);
    return doc ? this.decode(doc) : undefined;
  }

  /** several of one partition in one round trip, undecoded; missing keys are left out */
  async documents(keys: string[], partition: string): Promise<StoredDocument[]> {
    if (keys.length === 0) return [];
    const unit = currentUnit();
    const staged = unit ? keys.map((key) => unit.read(this.kind, key)) : [];
    if (!staged.some((s) => s !== undefined)) return this.deps.store.getMany(this.kind, keys, partition);
    const fromStore = await this.deps.store.getMany(this.kind, keys.filter((_, i) => staged[i] === undefined), partition);
    return [...fromStore, ...staged.flatMap((s) => (s && "doc" in s ? [s.doc] : []))];
  }

  /**
   * Encodes (seals) now, writes when called: a caller writing several documents prepares them all
   * first, so a key-provider failure cannot leave one written and the other not. Creates when `etag`
   * is undefined, else replaces under optimistic concurrency.
   */
  async prepare(place: Place, record: T, etag: string | undefined): Promise<() => Promise<Versioned<T>>> {
    const doc = await this.encode(place, record);
    return async () => {
      const stored = etag === undefined ? await this.deps.writer.create(doc) : await this.deps.writer.replace(doc, etag);
      return { record, etag: stored.etag, deleted: stored.deleted === true, updatedAt: stored.updatedAt };
    };
  }

  async write(place: Place, record: T, etag: string | undefined): Promise<Versioned<T>> {
    return (await this.prepare(place, record, etag))();
  }

  /** the numeric `field` of an internal (plain) record goes up by one, created at 1 */
  increment(place: Place, field: keyof T & string): Promise<void> {
    return this.deps.writer.increment({ ...place, kind: this.kind, schemaVersion: SCHEMA_VERSION, body: {} }, field);
  }

  /** writes the record unless its key exists; false when it did (left as it is) */
  async createIfAbsent(place: Place, record: T): Promise<boolean> {
    const doc = await this.encode(place, record);
    return this.deps.writer.create(doc).then(
      () => true,
      (err: unknown) => {
        if (err instanceof StoreConflictError) return false;
        throw err;
      },
    );
  }

  /** false when absent; with `ifMatch`, throws StorePreconditionFailedError when it changed */
  delete(key: string, partition: string, ifMatch?: string): Promise<boolean> {
    return this.deps.writer.delete(this.kind, key, partition, ifMatch);
  }

  /** deletes the document as it was read; false when it changed or went meanwhile (not ours to delete) */
  deleteIfUnchanged(doc: Pick<StoredDocument, "key" | "partition" | "etag">): Promise<boolean> {
    return this.delete(doc.key, doc.partition, doc.etag).catch(unlessLostRace);
  }

  /** replaces the document as it was read; false when it changed or went meanwhile */
  async replaceIfUnchanged(doc: StoredDocument, body: Record<string, unknown>): Promise<boolean> {
    const next: NewDocument = { kind: doc.kind, key: doc.key, partition: doc.partition, parent: doc.parent, schemaVersion: doc.schemaVersion, body, ...(doc.deleted !== undefined ? { deleted: doc.deleted } : {}), ...(doc.expiresAt !== undefined ? { expiresAt: doc.expiresAt } : {}) };
    return this.deps.writer.replace(next, doc.etag).then(() => true, unlessLostRace);
  }

  /**
   * Read-modify-write: `mutate` gets the current record (undefined when absent) and returns the next,
   * which is created or replaced under the etag just read; a lost race reads again, at most `attempts`
   * times (then 409). Returns what was written and the document it replaced.
   */
  async patch(place: Place, mutate: (current: Versioned<T> | undefined) => T, attempts = PATCH_ATTEMPTS): Promise<{ written: Versioned<T>; previous?: StoredDocument }> {
    return retryOnLostRace(async () => {
      const previous = await this.document(place.key, place.partition);
      const next = mutate(previous ? await this.decode(previous) : undefined);
      const written = await this.write(place, next, previous?.etag);
      return previous ? { written, previous } : { written };
    }, attempts);
  }

  /**
   * Puts an already encoded document in place of whatever is there (a read for its etag, then a
   * create or an etag-conditional replace, retried while racing); returns what it replaced. For bodies
   * that must be sealed once only (a secrets document gets a key of its own at each encode).
   */
  async putEncoded(prepared: NewDocument, attempts = PATCH_ATTEMPTS): Promise<StoredDocument | undefined> {
    return retryOnLostRace(async () => {
      const previous = await this.document(prepared.key, prepared.partition);
      if (previous) await this.deps.writer.replace(prepared, previous.etag);
      else await this.deps.writer.create(prepared);
      return previous;
    }, attempts);
  }

  /** encodes (seals) a record for putEncoded */
  encodeFor(place: Place, record: T): Promise<NewDocument> {
    return this.encode(place, record);
  }

  /** one page of a list or scan, undecoded (a caller that must skip an unreadable one decodes each) */
  pageOf(query: PagesQuery, limit: number, continuation?: string): Promise<Page> {
    if ("scan" in query) return this.deps.store.scan({ kind: this.kind, ...(query.expired ? { expired: true } : {}) }, { limit, continuation });
    return this.deps.store.list({ kind: this.kind, partition: query.partition, parent: query.parent, ...(query.includeDeleted ? { includeDeleted: true } : {}) }, { limit, continuation });
  }

  /** one page decoded, for ARM lists (the continuation goes back to the caller as a skip token) */
  async page(query: PagesQuery, limit: number, continuation?: string): Promise<{ items: Versioned<T>[]; continuation?: string }> {
    const page = await this.pageOf(query, limit, continuation);
    const items = await Promise.all(page.items.map((doc) => this.decode(doc)));
    return { items, continuation: page.continuation };
  }

  /** every page of a query, undecoded, until the last: the one continuation loop */
  async *pages(query: PagesQuery, pageSize = 200): AsyncGenerator<StoredDocument[]> {
    let continuation: string | undefined;
    do {
      const page = await this.pageOf(query, pageSize, continuation);
      yield page.items;
      continuation = page.continuation;
    } while (continuation !== undefined);
  }
}
