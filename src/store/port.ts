/**
 * The store port: the only way domain code reaches persistence.
 *
 * A document is a routing envelope (fields the store must see in clear to find, order and expire
 * records) plus an opaque `body`. Only envelope fields may ever be queried; the body is free to be
 * encrypted by a codec before it reaches an adapter (issue #3), so no adapter may look inside it.
 *
 * Keys are lowercased ARM resource ids: ARM compares ids case-insensitively, while the body keeps
 * the casing the caller used last.
 */

/** records of the service itself (migrations, leases) live in this partition, beside the data */
export const SYSTEM_PARTITION = "_system";

/**
 * Service-owned records are keyed `<kind>:<name>`: the kinds, declared once. `desired` (a cluster's
 * desired-state version marker), `deleting` (a deletion that stopped half-way), `operation` (a finished
 * asynchronous operation), `lease` (a job's lease), `migration` (an applied migration), `fluxVersion` (a
 * cluster's Flux major version, issue #16) are of DocKind "system"; `current` is the pointer to a partition's current data key (DocKind "dataKey").
 */
export const SYSTEM_RECORD_KINDS = ["desired", "deleting", "operation", "lease", "migration", "current", "fluxVersion"] as const;
export type SystemRecordKind = (typeof SYSTEM_RECORD_KINDS)[number];

export const systemKey = (kind: SystemRecordKind, name: string): string => `${kind}:${name}`;
export const isSystemKey = (kind: SystemRecordKind, key: string): boolean => key.startsWith(`${kind}:`);
/** the name part of a key of `kind` (the key must be one: isSystemKey) */
export const systemKeyName = (kind: SystemRecordKind, key: string): string => key.slice(kind.length + 1);

export type DocKind =
  | "subscription"
  | "cluster"
  | "configuration"
  /** a Flux v2 fluxConfiguration (issue #16); its protected settings are a "configurationSecrets" document of its own id */
  | "fluxConfiguration"
  /** protected settings and known_hosts of one configuration, kept apart so they can be sealed and purged alone */
  | "configurationSecrets"
  /** a partition's data-encryption keys (wrapped) and its current-key pointer */
  | "dataKey"
  /** the data-encryption key of one secrets document: destroying it shreds the secrets */
  | "secretKey"
  /** a configuration assignment (one configuration for every matching cluster of a scope) */
  | "assignment"
  /** the reconciler's view of one assignment: rollout progress and compliance summary */
  | "assignmentStatus"
  /** a cluster whose assignments must be re-evaluated (created, or its tags changed): the reconciler's outbox */
  | "clusterWork"
  /** small internal records: migration markers, leases, counters */
  | "system";

export interface DocumentEnvelope {
  kind: DocKind;
  /** lowercased ARM resource id (or internal name for kind "system"); unique together with kind */
  key: string;
  /** lowercased subscription id: the partition of every document of that subscription */
  partition: string;
  /** lowercased id of the parent used for listing: resource group id for clusters, cluster id for configurations; "" if none */
  parent: string;
  /** soft-deleted (a tombstone kept so the cluster agent learns of the delete); hidden from lists unless asked */
  deleted?: boolean;
  /** epoch ms after which the document counts as absent on every read path, and may be physically removed */
  expiresAt?: number;
  /** body layout version, for data migrations */
  schemaVersion: number;
}

export interface NewDocument extends DocumentEnvelope {
  body: Record<string, unknown>;
}

export interface StoredDocument extends NewDocument {
  /** opaque concurrency token, changes on every write */
  etag: string;
  /** epoch ms of the last write, set by the store */
  updatedAt: number;
}

export interface ListQuery {
  kind: DocKind;
  partition: string;
  /** exact parent match; omit to list the whole partition (e.g. clusters by subscription) */
  parent?: string;
  includeDeleted?: boolean;
}

export interface PageRequest {
  limit: number;
  /** opaque continuation returned by the previous page of the same query */
  continuation?: string;
}

export interface Page {
  /** ordered by key */
  items: StoredDocument[];
  /** absent on the last page */
  continuation?: string;
}

/** a cross-partition walk over one kind, in key order (background jobs only: re-wrap, purge) */
export interface ScanQuery {
  kind: DocKind;
  /**
   * only documents whose expiresAt has passed (read paths never see them; the purge job does); SQLite
   * gives them oldest expiry first (then by key), so a purge takes rows written together
   */
  expired?: boolean;
}

/** documents written after a point in time, across partitions (replicas watching each other's writes) */
export interface ChangedSinceQuery {
  kinds: DocKind[];
  /** epoch ms; documents with updatedAt greater than this */
  since: number;
  limit: number;
}

export interface ChangedDocument extends DocumentEnvelope {
  updatedAt: number;
}

export interface DeleteManyQuery {
  partition: string;
  parent?: string;
  kinds?: DocKind[];
}

/**
 * One write of an atomic commit (`Store.commit`). Etags are chosen by the writer before the commit
 * (a fresh UUID each), so what a unit of work handed out while staging is what the store keeps.
 * - create: fails (StoreConflictError) when the key exists (an expired document not yet removed counts as gone);
 * - replace: fails (StorePreconditionFailedError) unless the live document has etag `ifMatch`;
 * - upsert: whatever is there is replaced;
 * - delete: with `ifMatch`, fails unless the document has that etag; without, a missing document is no failure;
 * - increment: the body's numeric `field` goes up by one (created at 1), as the engine's own counter
 *   (SQLite: one statement; Cosmos DB: a patch `incr`), so counters need no read and meet no race.
 */
export type WriteOp =
  | { op: "create"; doc: NewDocument; etag: string }
  | { op: "replace"; doc: NewDocument; ifMatch: string; etag: string }
  | { op: "upsert"; doc: NewDocument; etag: string }
  | { op: "delete"; kind: DocKind; key: string; partition: string; ifMatch?: string }
  | { op: "increment"; doc: NewDocument; field: string; etag: string };

/** a commit holds at most this many writes (Cosmos DB's transactional batch limit); a unit of work needing more is a bug */
export const MAX_COMMIT_OPS = 100;

export interface Store {
  readonly engine: "sqlite" | "cosmos";
  /**
   * Applies every write or none, durably, in one commit (SQLite: one transaction; Cosmos DB: one
   * transactional batch in one partition). A failed condition throws the typed error of that write
   * (StoreConflictError, StorePreconditionFailedError) and nothing of the commit is kept.
   */
  commit(ops: WriteOp[]): Promise<void>;
  /** cheap round trip proving the store answers (used by /readyz) */
  ping(): Promise<void>;
  /** true once every migration the code knows about has been applied */
  migrationsApplied(): Promise<boolean>;
  get(kind: DocKind, key: string, partition: string): Promise<StoredDocument | undefined>;
  /** several documents of one kind in one partition, in one round trip; missing keys are left out */
  getMany(kind: DocKind, keys: string[], partition: string): Promise<StoredDocument[]>;
  /** throws StoreConflictError when (kind, key) exists (also when it exists only as an expired document not yet removed: it is replaced) */
  create(doc: NewDocument): Promise<StoredDocument>;
  /** throws StorePreconditionFailedError when the document is missing or its etag differs */
  replace(doc: NewDocument, ifMatch: string): Promise<StoredDocument>;
  /** returns false when absent; throws StorePreconditionFailedError when ifMatch is given and differs */
  delete(kind: DocKind, key: string, partition: string, ifMatch?: string): Promise<boolean>;
  list(query: ListQuery, page: PageRequest): Promise<Page>;
  /** every live document of a kind across partitions, ordered by key, paged; for background jobs */
  scan(query: ScanQuery, page: PageRequest): Promise<Page>;
  /**
   * Envelopes of documents written after `since` (bodies left out), at most `limit`; `truncated` when
   * there were more. Backs the cheap cross-replica change check where no change feed exists.
   */
  changedSince(query: ChangedSinceQuery): Promise<{ items: ChangedDocument[]; truncated: boolean }>;
  /** removes every matching document (cascades); returns how many */
  deleteMany(query: DeleteManyQuery): Promise<number>;
  /**
   * After a purge: make deleted content unrecoverable from the engine's own files where the engine
   * keeps it around (SQLite's WAL); a no-op where it does not.
   */
  compact(): Promise<void>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  constructor(public readonly kind: DocKind, public readonly key: string) {
    super(`document ${kind} ${key} already exists`);
    this.name = "StoreConflictError";
  }
}

export class StorePreconditionFailedError extends Error {
  constructor(public readonly kind: DocKind, public readonly key: string) {
    super(`document ${kind} ${key} changed or is missing`);
    this.name = "StorePreconditionFailedError";
  }
}

/** The engine could not be reached or answered with a transient failure; callers map it to 503. */
export class StoreUnavailableError extends Error {
  constructor(message: string, public readonly retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/**
 * The store answers reads but cannot take writes: disk full, read-only file, I/O error (SQLite's
 * SQLITE_FULL, SQLITE_READONLY*, SQLITE_IOERR*). Nothing of the write was kept (one statement or one
 * transaction); callers map it to 503 with Retry-After, and it clears by itself when the cause does.
 */
export class StoreWriteUnavailableError extends StoreUnavailableError {
  constructor(message: string, public readonly reason: "full" | "readonly" | "ioerror", retryAfterSeconds = 30, options?: { cause?: unknown }) {
    super(message, retryAfterSeconds, options);
    this.name = "StoreWriteUnavailableError";
  }
}
