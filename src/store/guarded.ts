/**
 * A Store decorator that makes any adapter fail fast and honestly (issue #17, docs/design/faults.md):
 * - every call has a deadline: a stalled engine is answered with StoreUnavailableError (503) at the
 *   deadline, never later;
 * - a circuit breaker: after repeated "unavailable" answers calls are refused at once, without I/O,
 *   until a half-open probe finds the engine back;
 * - the write-degraded state (disk full, read-only, I/O error): reads go on, writes answer 503, and the
 *   state is reported once per change (listener), not once per request. Writes keep being attempted, so
 *   the first one that succeeds after space returns clears the state without restart.
 */
import { CircuitBreaker, DeadlineExceededError, isThrottling, withDeadline } from "../ports/circuit-breaker.js";
import { StoreNotOpenError } from "./opening.js";
import {
  StoreUnavailableError,
  StoreWriteUnavailableError,
  type ChangedSinceQuery,
  type DeleteManyQuery,
  type DocKind,
  type ListQuery,
  type NewDocument,
  type Page,
  type PageRequest,
  type ScanQuery,
  type Store,
  type StoredDocument,
  type WriteOp,
} from "./port.js";

export interface GuardOptions {
  /** each call's deadline */
  deadlineMs: number;
  breaker: CircuitBreaker;
}

export type WriteStateListener = (available: boolean, cause?: StoreWriteUnavailableError) => void;

/** the engine is down (not: it answered with a refusal, or it cannot write while reads work) */
const engineDown = (err: unknown): boolean =>
  err instanceof StoreUnavailableError && !(err instanceof StoreWriteUnavailableError) && !(err instanceof StoreNotOpenError) && !isThrottling(err);

const refused = (retryAfterMs: number) =>
  new StoreUnavailableError("the store is unavailable (circuit open: failing fast)", Math.max(1, Math.ceil(retryAfterMs / 1000)));

export class GuardedStore implements Store {
  readonly engine: Store["engine"];
  private writable = true;
  private readonly writeListeners: WriteStateListener[] = [];

  constructor(readonly inner: Store, private readonly options: GuardOptions) {
    this.engine = inner.engine;
    // the breaker finds the store back by itself: a ping with the same deadline, in the background
    options.breaker.useProbe(() => withDeadline("store ping", options.deadlineMs, () => inner.ping()));
  }

  get breaker(): CircuitBreaker {
    return this.options.breaker;
  }

  /** false while the last write failed with StoreWriteUnavailableError */
  get writesAvailable(): boolean {
    return this.writable;
  }

  onWriteStateChange(listener: WriteStateListener): void {
    this.writeListeners.push(listener);
  }

  private guarded<T>(op: string, call: () => Promise<T>, deadlineMs = this.options.deadlineMs): Promise<T> {
    return this.options.breaker.run(
      async () => {
        try {
          return await withDeadline(`store ${op}`, deadlineMs, () => call());
        } catch (err) {
          if (err instanceof DeadlineExceededError) throw new StoreUnavailableError(`the store did not answer ${op} within ${deadlineMs} ms`, 1, { cause: err });
          throw err;
        }
      },
      engineDown,
      refused,
    );
  }

  private async write<T>(op: string, call: () => Promise<T>, deadlineMs?: number): Promise<T> {
    try {
      const result = await this.guarded(op, call, deadlineMs);
      this.setWritable(true);
      return result;
    } catch (err) {
      if (err instanceof StoreWriteUnavailableError) this.setWritable(false, err);
      throw err;
    }
  }

  private setWritable(available: boolean, cause?: StoreWriteUnavailableError): void {
    if (available === this.writable) return;
    this.writable = available;
    for (const l of this.writeListeners) l(available, cause);
  }

  ping() { return this.guarded("ping", () => this.inner.ping()); }
  migrationsApplied() { return this.guarded("migrationsApplied", () => this.inner.migrationsApplied()); }
  get(kind: DocKind, key: string, partition: string): Promise<StoredDocument | undefined> { return this.guarded("get", () => this.inner.get(kind, key, partition)); }
  getMany(kind: DocKind, keys: string[], partition: string) { return this.guarded("getMany", () => this.inner.getMany(kind, keys, partition)); }
  list(query: ListQuery, page: PageRequest): Promise<Page> { return this.guarded("list", () => this.inner.list(query, page)); }
  scan(query: ScanQuery, page: PageRequest): Promise<Page> { return this.guarded("scan", () => this.inner.scan(query, page)); }
  changedSince(query: ChangedSinceQuery) { return this.guarded("changedSince", () => this.inner.changedSince(query)); }
  commit(ops: WriteOp[]) { return this.write("commit", () => this.inner.commit(ops)); }
  create(doc: NewDocument) { return this.write("create", () => this.inner.create(doc)); }
  replace(doc: NewDocument, ifMatch: string) { return this.write("replace", () => this.inner.replace(doc, ifMatch)); }
  delete(kind: DocKind, key: string, partition: string, ifMatch?: string) { return this.write("delete", () => this.inner.delete(kind, key, partition, ifMatch)); }
  // a cascade is many deletes in one call (bounded concurrency on Cosmos DB): it gets ten deadlines
  deleteMany(query: DeleteManyQuery) { return this.write("deleteMany", () => this.inner.deleteMany(query), this.options.deadlineMs * 10); }
  compact() { return this.write("compact", () => this.inner.compact(), this.options.deadlineMs * 10); }
  close() {
    this.options.breaker.dispose();
    return this.inner.close();
  }
}
