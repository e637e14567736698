/**
 * The production engine: Azure Cosmos DB through @azure/cosmos. One container, partition key
 * `/partition` (the lowercased subscription id), item id `${kind}.${sha256(key)}` (ids may not hold
 * '/', and ARM ids can exceed what an id may be).
 *
 * Etags: each item carries an etag of ours (`etag`, a UUID chosen by the writer), so a unit of work
 * knows a document's etag before its batch commits (the port's contract). Conditions still go to the
 * engine as If-Match on Cosmos's own `_etag`: ours is mapped to it from the last read or write of the
 * item in this process (a bounded map), else by one point read that also checks ours still matches.
 * Items written before ours existed show their `_etag` as their etag.
 *
 * Expiry: items carry `ttl` so real Cosmos DB removes them, and `expiresAt` so every read path here
 * treats them as absent on time even where TTL does not run (the test server, or TTL lag).
 */
import crypto from "node:crypto";
import { ErrorResponse, type OperationInput, type QueryIterator, type Container, type CosmosClient, type Database, type ItemDefinition, type SqlParameter } from "@azure/cosmos";
import { LRUCache } from "lru-cache";
import { MIGRATIONS, type Migration } from "../../../migrations/index.js";
import type { Clock } from "../../ports/clock.js";
import { keysetPage } from "../keyset.js";
import { pending, type MigrationReport } from "../migration-runner.js";
import {
  StoreConflictError,
  StorePreconditionFailedError,
  StoreUnavailableError,
  SYSTEM_PARTITION,
  systemKey,
  type DeleteManyQuery,
  type DocKind,
  type ListQuery,
  type NewDocument,
  type Page,
  type PageRequest,
  type ScanQuery,
  type ChangedSinceQuery,
  type ChangedDocument,
  type Store,
  type StoredDocument,
  type WriteOp,
} from "../port.js";
import { bootstrapContainer } from "./bootstrap.js";

interface CosmosItem extends ItemDefinition {
  id: string;
  kind: DocKind;
  key: string;
  partition: string;
  parent: string;
  deleted: boolean;
  expiresAt?: number;
  ttl?: number;
  schemaVersion: number;
  body: Record<string, unknown>;
  updatedAt: number;
  /** ours: chosen by the writer (absent on items written before it existed) */
  etag?: string;
  _etag?: string;
}

const DELETE_CONCURRENCY = 16;

export const itemId = (kind: DocKind, key: string): string => `${kind}.${crypto.createHash("sha256").update(key).digest("hex")}`;

function statusOf(err: unknown): number | undefined {
  if (err instanceof ErrorResponse) return typeof err.code === "number" ? err.code : Number(err.code);
  const code = (err as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

/** transient engine failures become StoreUnavailableError (503 with Retry-After at the surface) */
function unavailable(err: unknown): never {
  const status = statusOf(err);
  if (status === 429 || status === 503 || status === 408 || status === undefined) {
    const retryAfterMs = (err as { retryAfterInMs?: number }).retryAfterInMs;
    throw new StoreUnavailableError(`Cosmos DB unavailable (${status ?? (err as Error).message})`, Math.max(1, Math.ceil((retryAfterMs ?? 5000) / 1000)), { cause: err });
  }
  throw err;
}

const etagOf = (item: CosmosItem): string => item.etag ?? item._etag ?? "";

/** statuses of a failed transactional batch: the op that failed has its own, the others 424 */
const failedOp = (results: { statusCode: number }[]): number => results.findIndex((r) => r.statusCode >= 400 && r.statusCode !== 424);

/** how a counter goes in a batch: a patch `incr`, or read and written back under its etag */
type CounterMode = "patch" | "read";

const partitionOfOp = (op: WriteOp): string => (op.op === "delete" ? op.partition : op.doc.partition);
const kindOfOp = (op: WriteOp): DocKind => (op.op === "delete" ? op.kind : op.doc.kind);
const keyOfOp = (op: WriteOp): string => (op.op === "delete" ? op.key : op.doc.key);

export class CosmosStore implements Store {
  readonly engine = "cosmos" as const;

  private constructor(
    private readonly client: CosmosClient,
    private readonly database: Database,
    private readonly container: Container,
    private readonly clock: Clock,
    private readonly migrations: readonly Migration[],
    /** counters go as a patch `incr` inside the batch (see commit); false on the test server */
    readonly patchInBatch: boolean,
  ) {}

  static async open(client: CosmosClient, databaseId: string, containerId: string, clock: Clock, migrations: readonly Migration[] = MIGRATIONS): Promise<CosmosStore> {
    const { database, container } = await bootstrapContainer(client, databaseId, containerId).catch(unavailable);
    return new CosmosStore(client, database, container, clock, migrations, await CosmosStore.probePatchInBatch(container));
  }

  /** our etag -> the engine's _etag of the same version, from this process's reads and writes */
  private readonly engineEtags = new LRUCache<string, string>({ max: 50_000 });

  private toItem(doc: NewDocument, etag: string = crypto.randomUUID()): CosmosItem {
    const now = this.clock.now();
    const item: CosmosItem = {
      etag,
      id: itemId(doc.kind, doc.key),
      kind: doc.kind,
      key: doc.key,
      partition: doc.partition,
      parent: doc.parent,
      deleted: doc.deleted === true,
      schemaVersion: doc.schemaVersion,
      body: doc.body,
      updatedAt: now,
    };
    if (doc.expiresAt !== undefined) {
      item.expiresAt = doc.expiresAt;
      item.ttl = Math.max(1, Math.ceil((doc.expiresAt - now) / 1000));
    }
    return item;
  }

  private fromItem(item: CosmosItem): StoredDocument {
    if (item.etag !== undefined && item._etag !== undefined) this.engineEtags.set(item.etag, item._etag);
    return {
      kind: item.kind,
      key: item.key,
      partition: item.partition,
      parent: item.parent,
      ...(item.deleted ? { deleted: true } : {}),
      ...(item.expiresAt !== undefined ? { expiresAt: item.expiresAt } : {}),
      schemaVersion: item.schemaVersion,
      body: item.body,
      etag: item.etag ?? item._etag ?? "",
      updatedAt: item.updatedAt,
    };
  }

  private expired(item: CosmosItem): boolean {
    return item.expiresAt !== undefined && item.expiresAt <= this.clock.now();
  }

  private async readItem(kind: DocKind, key: string, partition: string): Promise<CosmosItem | undefined> {
    try {
      const { resource } = await this.container.item(itemId(kind, key), partition).read<CosmosItem>();
      return resource;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      return unavailable(err);
    }
  }

  async ping(): Promise<void> {
    await this.container.read().catch(unavailable);
  }

  private async appliedIds(): Promise<Set<string>> {
    const { resources } = await this.container.items
      .query<{ key: string }>({ query: "SELECT c.key FROM c WHERE c.partition = @p AND c.kind = 'system'", parameters: [{ name: "@p", value: SYSTEM_PARTITION }] }, { partitionKey: SYSTEM_PARTITION })
      .fetchAll()
      .catch(unavailable);
    return new Set(resources.map((r) => r.key.replace(/^migration:/, "")));
  }

  async migrate(): Promise<MigrationReport> {
    const applied = await this.appliedIds();
    const todo = pending(this.migrations, applied);
    for (const m of todo) {
      await m.cosmos({ database: this.database, container: this.container });
      // recorded after the step succeeded; steps are idempotent, so a crash in between only repeats one
      const record: NewDocument = { kind: "system", key: systemKey("migration", m.id), partition: SYSTEM_PARTITION, parent: "migrations", schemaVersion: 1, body: { id: m.id, description: m.description, appliedAt: this.clock.now() } };
      await this.container.items.upsert(this.toItem(record)).catch(unavailable);
    }
    return { applied: todo.map((m) => m.id), alreadyApplied: [...applied].sort() };
  }

  async migrationsApplied(): Promise<boolean> {
    return pending(this.migrations, await this.appliedIds()).length === 0;
  }

  async get(kind: DocKind, key: string, partition: string): Promise<StoredDocument | undefined> {
    const item = await this.readItem(kind, key, partition);
    return item && !this.expired(item) ? this.fromItem(item) : undefined;
  }

  /** point reads in parallel: 1 RU each, cheaper than a cross-key query */
  async getMany(kind: DocKind, keys: string[], partition: string): Promise<StoredDocument[]> {
    const found = await Promise.all(keys.map((key) => this.get(kind, key, partition)));
    return found.filter((d): d is StoredDocument => d !== undefined);
  }

  async create(doc: NewDocument): Promise<StoredDocument> {
    return this.createItem(doc, this.toItem(doc));
  }

  private async createItem(doc: NewDocument, item: CosmosItem): Promise<StoredDocument> {
    try {
      const { resource } = await this.container.items.create<CosmosItem>(item);
      return this.fromItem(resource as CosmosItem);
    } catch (err) {
      if (statusOf(err) !== 409) return unavailable(err);
      // an expired item not yet removed by TTL counts as gone: replace it under its own etag
      const existing = await this.readItem(doc.kind, doc.key, doc.partition);
      if (existing && this.expired(existing) && existing._etag) {
        try {
          return await this.replaceItem(item, existing._etag);
        } catch (inner) {
          if (inner instanceof StorePreconditionFailedError) throw new StoreConflictError(doc.kind, doc.key);
          throw inner;
        }
      }
      throw new StoreConflictError(doc.kind, doc.key);
    }
  }

  private async replaceItem(item: CosmosItem, ifMatch: string): Promise<StoredDocument> {
    try {
      const { resource } = await this.container.item(item.id, item.partition).replace<CosmosItem>(item, { accessCondition: { type: "IfMatch", condition: ifMatch } });
      return this.fromItem(resource as CosmosItem);
    } catch (err) {
      const status = statusOf(err);
      if (status === 412 || status === 404) throw new StorePreconditionFailedError(item.kind, item.key);
      return unavailable(err);
    }
  }

  async replace(doc: NewDocument, ifMatch: string): Promise<StoredDocument> {
    const current = await this.currentVersion(doc.kind, doc.key, doc.partition, ifMatch);
    if (current === undefined) throw new StorePreconditionFailedError(doc.kind, doc.key);
    return this.replaceItem(this.toItem(doc), current);
  }

  /**
   * Read now: the engine's _etag when the live item is at our etag `ifMatch`, undefined when it is gone
   * (or expired); StorePreconditionFailedError when it is there under another version.
   */
  private async currentVersion(kind: DocKind, key: string, partition: string, ifMatch: string): Promise<string | undefined> {
    const existing = await this.readItem(kind, key, partition);
    if (!existing || this.expired(existing)) return undefined;
    if (etagOf(existing) !== ifMatch || !existing._etag) throw new StorePreconditionFailedError(kind, key);
    return existing._etag;
  }

  /** the engine's _etag for our etag `ifMatch` of a live item; StorePreconditionFailedError when it is not the current version */
  private async engineEtag(kind: DocKind, key: string, partition: string, ifMatch: string): Promise<string> {
    const known = this.engineEtags.get(ifMatch) ?? (await this.currentVersion(kind, key, partition, ifMatch));
    if (known === undefined) throw new StorePreconditionFailedError(kind, key);
    return known;
  }

  async delete(kind: DocKind, key: string, partition: string, ifMatch?: string): Promise<boolean> {
    let options = {};
    if (ifMatch !== undefined) {
      // gone is "not deleted"; there under another etag is a lost race (thrown by currentVersion)
      const engine = this.engineEtags.get(ifMatch) ?? (await this.currentVersion(kind, key, partition, ifMatch));
      if (engine === undefined) return false;
      options = { accessCondition: { type: "IfMatch", condition: engine } };
    }
    try {
      await this.container.item(itemId(kind, key), partition).delete(options);
      return true;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return false;
      if (status === 412) throw new StorePreconditionFailedError(kind, key);
      return unavailable(err);
    }
  }

  /**
   * One transactional batch (one round trip, all or nothing, in one partition) when the writes share a
   * partition; one write alone goes as itself. Writes across partitions (none today) fall back to one
   * after another, in order. docs/design/persistence.md says what each kind of write becomes:
   * - a conditional write carries the engine's `_etag` for our etag (mapped from this process's reads and
   *   writes; one point read otherwise);
   * - a counter is a patch `incr` where the engine takes patches in a batch (probed at open; a counter not
   *   there yet, or one that carries an expiry, is created or read and replaced instead), else read and
   *   written back under its `_etag`;
   * - an unconditional delete is sent blind, first in the batch; a batch failing on deleting nothing is
   *   sent again without it (the engine rolled the failed batch back; first in order, nothing ran before it
   *   on an engine that does not roll back either).
   */
  async commit(ops: WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    const partition = partitionOfOp(ops[0] as WriteOp);
    if (ops.length === 1 || ops.some((op) => partitionOfOp(op) !== partition)) {
      for (const op of ops) await this.applyAlone(op);
      return;
    }
    const blind = (op: WriteOp) => op.op === "delete" && op.ifMatch === undefined;
    let pending = [...ops.filter(blind), ...ops.filter((op) => !blind(op))];
    const counters = new Map<WriteOp, CounterMode>(ops.filter((op) => op.op === "increment").map((op) => [op, this.patchInBatch ? "patch" : "read"]));
    for (let round = 0; round < 2 * ops.length + 2; round++) {
      if (pending.length === 0) return;
      const inputs = await Promise.all(pending.map((op) => this.batchInput(op, counters.get(op))));
      // each operation names the partition too: the test server reads it there, real Cosmos DB takes both
      const response = await this.container.items.batch(inputs.map((input) => ({ ...input, partitionKey: partition }) as OperationInput), partition).catch(unavailable);
      const results = response.result ?? [];
      const failed = failedOp(results);
      if (failed < 0 && response.code !== undefined && response.code < 400) {
        results.forEach((r, i) => this.rememberWritten(pending[i] as WriteOp, r.eTag));
        return;
      }
      const op = pending[failed] as WriteOp | undefined;
      const status = failed >= 0 ? results[failed]?.statusCode : response.code;
      if (op && blind(op) && status === 404) {
        pending = pending.filter((o) => o !== op); // nothing to delete: the rest goes again
        continue;
      }
      const mode = op ? counters.get(op) : undefined;
      if (op && mode === "patch" && (status === 404 || status === 412)) {
        counters.set(op, "read"); // not there yet, or it carries an expiry a patch would keep: read it
        continue;
      }
      if (op && status === 409) throw new StoreConflictError(kindOfOp(op), keyOfOp(op));
      if (op && (status === 412 || status === 404)) throw new StorePreconditionFailedError(kindOfOp(op), keyOfOp(op));
      throw new StoreUnavailableError(`Cosmos DB refused the batch (${status ?? "no status"})`, 1);
    }
    throw new StoreUnavailableError("Cosmos DB kept refusing the batch", 1);
  }

  private rememberWritten(op: WriteOp, engineEtag: string | undefined): void {
    if (op.op !== "delete" && engineEtag) this.engineEtags.set(op.etag, engineEtag);
  }

  private async applyAlone(op: WriteOp): Promise<void> {
    switch (op.op) {
      case "create": return void (await this.createItem(op.doc, this.toItem(op.doc, op.etag)));
      case "replace": {
        const engine = await this.engineEtag(op.doc.kind, op.doc.key, op.doc.partition, op.ifMatch);
        return void (await this.replaceItem(this.toItem(op.doc, op.etag), engine));
      }
      case "upsert": {
        const { resource } = await this.container.items.upsert<CosmosItem>(this.toItem(op.doc, op.etag)).catch(unavailable);
        if (resource) this.fromItem(resource);
        return;
      }
      case "delete": return void (await this.delete(op.kind, op.key, op.partition, op.ifMatch));
      case "increment": {
        const input = await this.counterInput(op, "read");
        const response = await this.container.items.batch([{ ...input, partitionKey: op.doc.partition } as OperationInput], op.doc.partition).catch(unavailable);
        const status = response.result?.[0]?.statusCode ?? response.code ?? 500;
        if (status === 409 || status === 412) throw new StorePreconditionFailedError(op.doc.kind, op.doc.key);
        if (status >= 400) throw new StoreUnavailableError(`Cosmos DB refused the counter write (${status})`, 1);
        return;
      }
    }
  }

  private async batchInput(op: WriteOp, counter: CounterMode = "read"): Promise<OperationInput> {
    switch (op.op) {
      case "create": {
        // a document that expires may meet its expired predecessor not yet removed by TTL (secrets PUT
        // again after their window, before the sweep): that one counts as gone, so it is replaced under
        // its own etag, as create() does; one read, only for kinds that expire under a key that can come
        // back (a secret key's id is new each time: it cannot meet a predecessor)
        const reused = op.doc.expiresAt !== undefined && op.doc.kind !== "secretKey";
        const existing = reused ? await this.readItem(op.doc.kind, op.doc.key, op.doc.partition) : undefined;
        if (existing && this.expired(existing) && existing._etag) {
          return { operationType: "Replace", id: existing.id, ifMatch: existing._etag, resourceBody: { ...this.toItem(op.doc, op.etag) } };
        }
        return { operationType: "Create", resourceBody: { ...this.toItem(op.doc, op.etag) } };
      }
      case "replace": {
        const ifMatch = await this.engineEtag(op.doc.kind, op.doc.key, op.doc.partition, op.ifMatch);
        return { operationType: "Replace", id: itemId(op.doc.kind, op.doc.key), ifMatch, resourceBody: { ...this.toItem(op.doc, op.etag) } };
      }
      case "upsert": return { operationType: "Upsert", resourceBody: { ...this.toItem(op.doc, op.etag) } };
      case "delete": {
        // the batch API takes ifMatch on a delete (its typings leave it out)
        if (op.ifMatch === undefined) return { operationType: "Delete", id: itemId(op.kind, op.key) };
        return { operationType: "Delete", id: itemId(op.kind, op.key), ifMatch: await this.engineEtag(op.kind, op.key, op.partition, op.ifMatch) } as OperationInput;
      }
      case "increment": return this.counterInput(op, counter);
    }
  }

  /**
   * A counter: a patch `incr` when the engine takes one in a batch and the write sets no expiry (the
   * patch's condition fails on an item carrying one, which is then read); else the counter as read now
   * plus one, written under the engine etag just read (a race fails the batch: the caller retries).
   */
  private async counterInput(op: Extract<WriteOp, { op: "increment" }>, mode: CounterMode): Promise<OperationInput> {
    if (mode === "patch" && op.doc.expiresAt === undefined) {
      return {
        operationType: "Patch",
        id: itemId(op.doc.kind, op.doc.key),
        resourceBody: {
          condition: "FROM c WHERE NOT IS_DEFINED(c.expiresAt)",
          operations: [
            { op: "incr", path: `/body/${op.field}`, value: 1 },
            { op: "set", path: "/etag", value: op.etag },
            { op: "set", path: "/updatedAt", value: this.clock.now() },
          ],
        },
      };
    }
    const existing = await this.readItem(op.doc.kind, op.doc.key, op.doc.partition);
    const before = existing && !this.expired(existing) ? Number(existing.body[op.field] ?? 0) : 0;
    const item = this.toItem({ ...op.doc, body: { ...(existing?.body ?? {}), [op.field]: (Number.isFinite(before) ? before : 0) + 1 } }, op.etag);
    if (!existing?._etag) return { operationType: "Create", resourceBody: { ...item } };
    return { operationType: "Replace", id: item.id, ifMatch: existing._etag, resourceBody: { ...item } };
  }

  /**
   * Whether the engine takes a patch inside a transactional batch (Azure Cosmos DB does; the test server
   * does not): one batch on a probe record of the service's own partition, at open.
   */
  private static async probePatchInBatch(container: Container): Promise<boolean> {
    const id = itemId("system", "probe:patch-in-batch");
    try {
      const response = await container.items.batch(
        [
          { operationType: "Upsert", partitionKey: SYSTEM_PARTITION, resourceBody: { id, kind: "system", key: "probe:patch-in-batch", partition: SYSTEM_PARTITION, parent: "", deleted: false, schemaVersion: 1, body: { n: 0 }, updatedAt: 0 } },
          { operationType: "Patch", partitionKey: SYSTEM_PARTITION, id, resourceBody: { operations: [{ op: "incr", path: "/body/n", value: 1 }] } },
        ],
        SYSTEM_PARTITION,
      );
      return response.code !== undefined && response.code < 400 && (response.result ?? []).every((r) => r.statusCode < 400);
    } catch {
      return false;
    } finally {
      // the probe leaves nothing behind (the test server keeps the upsert of a batch it then refused)
      await container.item(id, SYSTEM_PARTITION).delete().catch(() => undefined);
    }
  }

  /** keyset paging on the envelope key, inside one partition */
  async list(query: ListQuery, page: PageRequest): Promise<Page> {
    const clauses = ["c.kind = @kind", "c.partition = @partition", "(NOT IS_DEFINED(c.expiresAt) OR c.expiresAt > @now)"];
    const parameters: SqlParameter[] = [
      { name: "@kind", value: query.kind },
      { name: "@partition", value: query.partition },
      { name: "@now", value: this.clock.now() },
    ];
    if (query.parent !== undefined) {
      clauses.push("c.parent = @parent");
      parameters.push({ name: "@parent", value: query.parent });
    }
    if (!query.includeDeleted) clauses.push("c.deleted = false");
    if (page.continuation !== undefined) {
      clauses.push("c.key > @after");
      parameters.push({ name: "@after", value: page.continuation });
    }
    const iterator = this.container.items.query<CosmosItem>(
      { query: `SELECT * FROM c WHERE ${clauses.join(" AND ")} ORDER BY c.key`, parameters },
      { partitionKey: query.partition, maxItemCount: page.limit + 1 },
    );
    return this.keysetPage(iterator, page.limit);
  }

  /** reads up to one more row than the page holds (see keyset.ts) */
  private async keysetPage(iterator: QueryIterator<CosmosItem>, limit: number): Promise<Page> {
    const rows: CosmosItem[] = [];
    while (rows.length <= limit && iterator.hasMoreResults()) {
      const { resources } = await iterator.fetchNext().catch(unavailable);
      rows.push(...resources);
    }
    return keysetPage(rows.map((r) => this.fromItem(r)), limit);
  }

  /** cross-partition, so only background jobs call it; keyset-paged like list */
  async scan(query: ScanQuery, page: PageRequest): Promise<Page> {
    const parameters: SqlParameter[] = [
      { name: "@kind", value: query.kind },
      { name: "@now", value: this.clock.now() },
    ];
    let after = "";
    if (page.continuation !== undefined) {
      after = "AND c.key > @after";
      parameters.push({ name: "@after", value: page.continuation });
    }
    const iterator = this.container.items.query<CosmosItem>(
      {
        query: `SELECT * FROM c WHERE c.kind = @kind AND ${query.expired ? "IS_DEFINED(c.expiresAt) AND c.expiresAt <= @now" : "(NOT IS_DEFINED(c.expiresAt) OR c.expiresAt > @now)"} ${after} ORDER BY c.key`,
        parameters,
      },
      { maxItemCount: page.limit + 1 },
    );
    return this.keysetPage(iterator, page.limit);
  }

  /** one cross-partition query on the updatedAt index (migration 0002): the cheap substitute for a change feed */
  async changedSince(query: ChangedSinceQuery): Promise<{ items: ChangedDocument[]; truncated: boolean }> {
    const parameters: SqlParameter[] = [{ name: "@since", value: query.since }];
    query.kinds.forEach((k, i) => parameters.push({ name: `@k${i}`, value: k }));
    const { resources } = await this.container.items
      .query<CosmosItem>(
        {
          query: `SELECT TOP ${query.limit + 1} c.kind, c.key, c.partition, c.parent, c.deleted, c.schemaVersion, c.updatedAt FROM c WHERE c.updatedAt > @since AND c.kind IN (${query.kinds.map((_, i) => `@k${i}`).join(", ")})`,
          parameters,
        },
        { maxItemCount: query.limit + 1 },
      )
      .fetchAll()
      .catch(unavailable);
    const items = resources.slice(0, query.limit).map((r) => ({ kind: r.kind, key: r.key, partition: r.partition, parent: r.parent, deleted: r.deleted === true, schemaVersion: r.schemaVersion, updatedAt: r.updatedAt }));
    return { items, truncated: resources.length > query.limit };
  }

  async deleteMany(query: DeleteManyQuery): Promise<number> {
    const clauses = ["c.partition = @partition"];
    const parameters: SqlParameter[] = [{ name: "@partition", value: query.partition }];
    if (query.parent !== undefined) {
      clauses.push("c.parent = @parent");
      parameters.push({ name: "@parent", value: query.parent });
    }
    if (query.kinds) {
      clauses.push(`c.kind IN (${query.kinds.map((_, i) => `@k${i}`).join(", ")})`);
      query.kinds.forEach((k, i) => parameters.push({ name: `@k${i}`, value: k }));
    }
    const { resources } = await this.container.items
      .query<{ id: string }>({ query: `SELECT c.id FROM c WHERE ${clauses.join(" AND ")}`, parameters }, { partitionKey: query.partition })
      .fetchAll()
      .catch(unavailable);
    let removed = 0;
    for (let i = 0; i < resources.length; i += DELETE_CONCURRENCY) {
      const batch = resources.slice(i, i + DELETE_CONCURRENCY);
      const results = await Promise.all(
        batch.map((r) =>
          this.container
            .item(r.id, query.partition)
            .delete()
            .then(() => 1)
            .catch((err: unknown) => (statusOf(err) === 404 ? 0 : unavailable(err))),
        ),
      );
      removed += results.reduce((a, b) => a + b, 0);
    }
    return removed;
  }

  /** Cosmos DB keeps no readable copy of a deleted item: nothing to do */
  async compact(): Promise<void> {}

  async close(): Promise<void> {
    this.client.dispose();
  }
}
