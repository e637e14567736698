/** A Store decorator that times and counts every call (for /metrics); adds no behaviour. */
import type { ChangedSinceQuery, DeleteManyQuery, DocKind, ListQuery, NewDocument, Page, PageRequest, ScanQuery, Store, StoredDocument, WriteOp } from "./port.js";

export type StoreCallObserver = (op: string, engine: string, durationMs: number, outcome: "ok" | "error") => void;

export class InstrumentedStore implements Store {
  readonly engine: Store["engine"];
  /** calls made so far, by operation (tests use it to prove no storage access happened) */
  readonly calls = new Map<string, number>();

  constructor(readonly inner: Store, private readonly observe: StoreCallObserver) {
    this.engine = inner.engine;
  }

  private async timed<T>(op: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    try {
      const result = await call();
      this.observe(op, this.engine, performance.now() - started, "ok");
      return result;
    } catch (err) {
      this.observe(op, this.engine, performance.now() - started, "error");
      throw err;
    }
  }

  totalCalls(): number {
    let n = 0;
    for (const [op, count] of this.calls) if (op !== "ping" && op !== "migrationsApplied") n += count;
    return n;
  }

  ping() { return this.timed("ping", () => this.inner.ping()); }
  migrationsApplied() { return this.timed("migrationsApplied", () => this.inner.migrationsApplied()); }
  get(kind: DocKind, key: string, partition: string): Promise<StoredDocument | undefined> { return this.timed("get", () => this.inner.get(kind, key, partition)); }
  getMany(kind: DocKind, keys: string[], partition: string) { return this.timed("getMany", () => this.inner.getMany(kind, keys, partition)); }
  commit(ops: WriteOp[]) { return this.timed("commit", () => this.inner.commit(ops)); }
  create(doc: NewDocument) { return this.timed("create", () => this.inner.create(doc)); }
  replace(doc: NewDocument, ifMatch: string) { return this.timed("replace", () => this.inner.replace(doc, ifMatch)); }
  delete(kind: DocKind, key: string, partition: string, ifMatch?: string) { return this.timed("delete", () => this.inner.delete(kind, key, partition, ifMatch)); }
  list(query: ListQuery, page: PageRequest): Promise<Page> { return this.timed("list", () => this.inner.list(query, page)); }
  scan(query: ScanQuery, page: PageRequest): Promise<Page> { return this.timed("scan", () => this.inner.scan(query, page)); }
  changedSince(query: ChangedSinceQuery) { return this.timed("changedSince", () => this.inner.changedSince(query)); }
  deleteMany(query: DeleteManyQuery) { return this.timed("deleteMany", () => this.inner.deleteMany(query)); }
  compact() { return this.timed("compact", () => this.inner.compact()); }
  close() { return this.inner.close(); }
}
