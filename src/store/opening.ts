/**
 * Start-up against a store that is down (issue #17): the process starts and serves /healthz at once;
 * the store is opened (and migrated where configured) in the background, with a growing pause between
 * attempts, and until it is open every call answers StoreUnavailableError, so /readyz says 503 with the
 * reason and the API says 503 with Retry-After. No crash loop: the replica becomes ready by itself.
 */
import {
  StoreUnavailableError,
  type ChangedSinceQuery,
  type DeleteManyQuery,
  type DocKind,
  type ListQuery,
  type NewDocument,
  type PageRequest,
  type ScanQuery,
  type WriteOp,
  type Store,
} from "./port.js";

export interface OpeningOptions {
  /** first pause after a failed attempt; doubled each time up to maxRetryMs */
  retryMs: number;
  maxRetryMs: number;
  /** one line when opening first fails, one when it succeeds (never one per attempt) */
  log?: (level: "info" | "warn", message: string, fields: Record<string, unknown>) => void;
}

/** the store is not open yet: answered without I/O, so it is no evidence for a circuit breaker */
export class StoreNotOpenError extends StoreUnavailableError {
  constructor(message: string, retryAfterSeconds: number) {
    super(message, retryAfterSeconds);
    this.name = "StoreNotOpenError";
  }
}

const reasonOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 200);

export class OpeningStore implements Store {
  private opened?: Store;
  private lastError = "not opened yet";
  private attempts = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly openedPromise: Promise<Store>;
  private resolveOpened!: (store: Store) => void;

  constructor(readonly engine: Store["engine"], private readonly open: () => Promise<Store>, private readonly options: OpeningOptions) {
    this.openedPromise = new Promise((resolve) => (this.resolveOpened = resolve));
  }

  /** resolves when the store is open (tests, and callers that may wait) */
  whenOpen(): Promise<Store> {
    return this.openedPromise;
  }

  /** first attempt now; returns once it succeeded or failed (later attempts run in the background) */
  async start(): Promise<void> {
    await this.attempt(this.options.retryMs);
  }

  private async attempt(pauseMs: number): Promise<void> {
    if (this.closed) return;
    this.attempts++;
    try {
      const store = await this.open();
      if (this.closed) return void (await store.close());
      this.opened = store;
      this.resolveOpened(store);
      if (this.attempts > 1) this.options.log?.("info", "store opened", { engine: this.engine, attempts: this.attempts });
    } catch (err) {
      this.lastError = reasonOf(err);
      if (this.attempts === 1) this.options.log?.("warn", "store cannot be opened yet: retrying in the background", { engine: this.engine, reason: this.lastError });
      this.timer = setTimeout(() => void this.attempt(Math.min(pauseMs * 2, this.options.maxRetryMs)), pauseMs);
      this.timer.unref();
    }
  }

  private get store(): Store {
    if (this.opened) return this.opened;
    throw new StoreNotOpenError(`the store is not open yet (${this.lastError})`, Math.max(1, Math.ceil(this.options.retryMs / 1000)));
  }

  async ping(): Promise<void> { return this.store.ping(); }
  async migrationsApplied(): Promise<boolean> { return this.store.migrationsApplied(); }
  async get(kind: DocKind, key: string, partition: string) { return this.store.get(kind, key, partition); }
  async getMany(kind: DocKind, keys: string[], partition: string) { return this.store.getMany(kind, keys, partition); }
  async commit(ops: WriteOp[]) { return this.store.commit(ops); }
  async create(doc: NewDocument) { return this.store.create(doc); }
  async replace(doc: NewDocument, ifMatch: string) { return this.store.replace(doc, ifMatch); }
  async delete(kind: DocKind, key: string, partition: string, ifMatch?: string) { return this.store.delete(kind, key, partition, ifMatch); }
  async list(query: ListQuery, page: PageRequest) { return this.store.list(query, page); }
  async scan(query: ScanQuery, page: PageRequest) { return this.store.scan(query, page); }
  async changedSince(query: ChangedSinceQuery) { return this.store.changedSince(query); }
  async deleteMany(query: DeleteManyQuery) { return this.store.deleteMany(query); }
  async compact() { return this.store.compact(); }
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.opened?.close();
  }
}
