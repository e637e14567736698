/**
 * One request, one commit: the writes made while a unit of work is open are staged here, and
 * `Store.commit` applies them all at once when it closes (a SQLite transaction; a Cosmos DB
 * transactional batch in the subscription's partition). docs/design/persistence.md.
 *
 * The unit is found through AsyncLocalStorage, so the aggregates and the sealing codec's key writes
 * join it without being handed anything. Each staged write gets its etag now (a fresh UUID, kept by
 * the store as it is), so what the request returns is what a later read shows. Reads of a document
 * staged in this unit see the staged version (read-your-writes); lists and scans do not.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import crypto from "node:crypto";
import {
  MAX_COMMIT_OPS,
  StoreConflictError,
  StorePreconditionFailedError,
  type DocKind,
  type NewDocument,
  type Store,
  type StoredDocument,
  type WriteOp,
} from "../store/port.js";

/** what a read of a staged document sees: the staged version, or "absent" when the unit deletes it */
export type Staged = { doc: StoredDocument } | { absent: true } | undefined;

const SKIPPED = Symbol("skipped");

const slot = (kind: DocKind, key: string): string => `${kind}\n${key}`;

export class UnitOfWork {
  private readonly ops: (WriteOp | typeof SKIPPED)[] = [];
  /** the op index and the document as it will be, by kind and key */
  private readonly staged = new Map<string, { index: number; doc?: StoredDocument }>();
  private readonly afterCommit: (() => void)[] = [];
  private closed = false;

  get open(): boolean {
    return !this.closed;
  }

  constructor(private readonly now: () => number) {}

  /** the staged version of a document, if this unit writes it */
  read(kind: DocKind, key: string): Staged {
    const entry = this.staged.get(slot(kind, key));
    if (!entry) return undefined;
    return entry.doc ? { doc: entry.doc } : { absent: true };
  }

  private readonly claims = new Map<string, string>();

  /** what this unit claimed for a per-request guard document (flux-versions.ts: a cluster's Flux version), if anything */
  claimed(key: string): string | undefined {
    return this.claims.get(key);
  }

  /** records a claim (its write is staged by the caller): later writes of the same unit need not claim again */
  claim(key: string, value: string): void {
    this.claims.set(key, value);
  }

  private beforeCommits: (() => Promise<void>)[] = [];

  /** runs at the end of the attempt, just before its commit, inside the unit (it may stage writes); a throw fails the attempt */
  beforeCommit(run: () => Promise<void>): void {
    this.beforeCommits.push(run);
  }

  /** the beforeCommit steps, in order (inUnitOfWork runs them when the work returns) */
  async runBeforeCommit(): Promise<void> {
    while (this.beforeCommits.length > 0) await (this.beforeCommits.shift() as () => Promise<void>)();
  }

  private submitted: (() => void)[] = [];

  /** runs once the unit's writes are handed to the store (its commit queued, not yet durable), or when it ends without */
  onSubmitted(run: () => void): void {
    this.submitted.push(run);
  }

  private submit(): void {
    const runs = this.submitted;
    this.submitted = [];
    for (const run of runs) run();
  }

  private closers: ((committed: boolean) => void)[] = [];

  /** runs once when the unit ends, committed or not (releases what a claim took: flux-versions.ts) */
  onClose(run: (committed: boolean) => void): void {
    this.closers.push(run);
  }

  private close(committed: boolean): void {
    this.submit();
    const runs = this.closers;
    this.closers = [];
    for (const run of runs) run(committed);
  }

  /** runs after a successful commit (cache invalidations, wake-ups): never for writes that were not kept */
  onCommit(run: () => void): void {
    this.afterCommit.push(run);
  }

  create(doc: NewDocument): StoredDocument {
    this.notCounter(doc.kind, doc.key);
    const prior = this.staged.get(slot(doc.kind, doc.key));
    if (prior?.doc) throw new StoreConflictError(doc.kind, doc.key);
    const etag = crypto.randomUUID();
    // created over a delete staged in this unit: the delete's condition stands, the result is a replace of it
    if (prior) return this.restage(prior.index, this.recreate(prior.index, doc, etag), doc, etag);
    return this.stage({ op: "create", doc, etag }, doc, etag);
  }

  replace(doc: NewDocument, ifMatch: string): StoredDocument {
    this.notCounter(doc.kind, doc.key);
    const prior = this.staged.get(slot(doc.kind, doc.key));
    const etag = crypto.randomUUID();
    if (!prior) return this.stage({ op: "replace", doc, ifMatch, etag }, doc, etag);
    // a second write of a document staged here: it folds into the first, under the first's condition
    if (!prior.doc || prior.doc.etag !== ifMatch) throw new StorePreconditionFailedError(doc.kind, doc.key);
    return this.restage(prior.index, this.fold(this.ops[prior.index] as WriteOp, doc, etag), doc, etag);
  }

  delete(kind: DocKind, key: string, partition: string, ifMatch?: string): boolean {
    this.notCounter(kind, key);
    const prior = this.staged.get(slot(kind, key));
    if (!prior) {
      this.ops.push({ op: "delete", kind, key, partition, ...(ifMatch !== undefined ? { ifMatch } : {}) });
      this.staged.set(slot(kind, key), { index: this.ops.length - 1 });
      return true;
    }
    if (!prior.doc) return false;
    if (ifMatch !== undefined && prior.doc.etag !== ifMatch) throw new StorePreconditionFailedError(kind, key);
    const first = this.ops[prior.index] as WriteOp;
    // deleting what this unit created: neither write is needed; else delete under the first write's condition
    const next: WriteOp | typeof SKIPPED =
      first.op === "create" ? SKIPPED : { op: "delete", kind, key, partition, ...(first.op === "replace" ? { ifMatch: first.ifMatch } : {}) };
    this.ops[prior.index] = next;
    this.staged.set(slot(kind, key), { index: prior.index });
    return true;
  }

  /** the counter `field` of an internal record goes up by one at commit (no read, no race); once per unit */
  increment(doc: NewDocument, field: string): void {
    const at = slot(doc.kind, doc.key);
    if (this.incremented.has(at)) return;
    this.notCounter(doc.kind, doc.key, this.staged.has(at));
    this.ops.push({ op: "increment", doc, field, etag: crypto.randomUUID() });
    // a read of a counter being incremented sees the store's value: the unit does not know the sum
    this.incremented.add(at);
  }

  private readonly incremented = new Set<string>();

  /** a document is either written or counted in one unit, never both (nothing needs it; folding them would be guesswork) */
  private notCounter(kind: DocKind, key: string, clash = this.incremented.has(slot(kind, key))): void {
    if (clash) throw new Error(`a unit of work cannot both write and increment ${kind} ${key}`);
  }

  private stage(op: WriteOp, doc: NewDocument, etag: string): StoredDocument {
    this.ops.push(op);
    const stored = { ...doc, etag, updatedAt: this.now() };
    this.staged.set(slot(doc.kind, doc.key), { index: this.ops.length - 1, doc: stored });
    return stored;
  }

  private restage(index: number, op: WriteOp, doc: NewDocument, etag: string): StoredDocument {
    this.ops[index] = op;
    const stored = { ...doc, etag, updatedAt: this.now() };
    this.staged.set(slot(doc.kind, doc.key), { index, doc: stored });
    return stored;
  }

  private fold(first: WriteOp, doc: NewDocument, etag: string): WriteOp {
    if (first.op === "create") return { op: "create", doc, etag };
    if (first.op === "replace") return { op: "replace", doc, ifMatch: first.ifMatch, etag };
    return { op: "upsert", doc, etag };
  }

  private recreate(index: number, doc: NewDocument, etag: string): WriteOp {
    const deleted = this.ops[index];
    if (deleted !== SKIPPED && deleted?.op === "delete" && deleted.ifMatch !== undefined) return { op: "replace", doc, ifMatch: deleted.ifMatch, etag };
    // deleted unconditionally (or created and deleted here): whatever is there now is replaced
    return deleted === SKIPPED ? { op: "create", doc, etag } : { op: "upsert", doc, etag };
  }

  /** the writes to commit, in the order they were staged */
  writes(): WriteOp[] {
    return this.ops.filter((op): op is WriteOp => op !== SKIPPED);
  }

  abandon(): void {
    this.closed = true;
    this.close(false);
  }

  async commit(store: Store): Promise<void> {
    this.closed = true;
    let committed = false;
    try {
      const ops = this.writes();
      if (ops.length > MAX_COMMIT_OPS) throw new Error(`a unit of work staged ${ops.length} writes (at most ${MAX_COMMIT_OPS})`);
      if (ops.length > 0) {
        const done = store.commit(ops);
        this.submit();
        await done;
      }
      committed = true;
    } finally {
      this.close(committed);
    }
    for (const run of this.afterCommit) run();
  }
}

const current = new AsyncLocalStorage<UnitOfWork>();

/**
 * The unit of work the caller runs in, if any. A unit that has closed is none: work started inside a
 * request but still running after its commit (a timer, a background promise) writes at once.
 */
export const currentUnit = (): UnitOfWork | undefined => {
  const unit = current.getStore();
  return unit?.open ? unit : undefined;
};

/**
 * Runs `work` in a unit of work and commits what it staged when it returns; nothing is written when
 * it throws. Nested calls join the outer unit (one commit for the whole request). A lost race at
 * commit surfaces as the store's typed error, so a caller's retry loop reruns the whole attempt.
 */
export async function inUnitOfWork<R>(store: Store, now: () => number, work: () => Promise<R>): Promise<R> {
  if (currentUnit()) return work();
  const unit = new UnitOfWork(now);
  let result: R;
  try {
    result = await current.run(unit, async () => {
      const out = await work();
      await unit.runBeforeCommit();
      return out;
    });
  } catch (err) {
    // closed, so that work the attempt left running writes at once instead of into a unit never committed
    unit.abandon();
    throw err;
  }
  await unit.commit(store);
  return result;
}

/**
 * Items grouped by their partition, in first-seen order: one unit of work commits within one partition
 * (a Cosmos DB transactional batch cannot cross partitions).
 */
export function byPartition<T extends { partition: string }>(items: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.partition);
    if (group) group.push(item);
    else groups.set(item.partition, [item]);
  }
  return [...groups.values()];
}

/** runs `work` outside any unit (its writes go straight to the store): background steps inside a request */
export function outsideUnitOfWork<R>(work: () => R): R {
  return current.exit(work);
}
