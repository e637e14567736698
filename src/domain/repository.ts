/**
 * Typed access to the store for the domain: builds document envelopes (keys, partitions, parents)
 * from records and back. The body passes through a codec: the place where payloads are sealed before
 * they leave the process (issue #3); the identity codec keeps them as they are.
 */
import { errors } from "../arm/errors.js";
import { assignmentScopeId, EVERY_CLUSTER, keyOf, partitionOf, resourceGroupId } from "../arm/resource-ids.js";
import {
  type DocumentEnvelope,
  StoreConflictError,
  StorePreconditionFailedError,
  systemKey,
  SYSTEM_PARTITION,
  type DocKind,
  type NewDocument,
  type Page,
  type Store,
  type StoredDocument,
} from "../store/port.js";
import { plainCodec, type BodyCodec } from "../ports/body-codec.js";
import type { AssignmentRecord, AssignmentStatus, ClusterRecord, ConfigurationRecord, ConfigurationSecrets, SubscriptionRecord } from "./types.js";

export const SCHEMA_VERSION = 1;

/** the name of a subscription's every-cluster marker (its Deleted cascade): keys are unique per kind across partitions */
const everyClusterMarkerName = (subscriptionId: string): string => `${EVERY_CLUSTER}:${subscriptionId.toLowerCase()}`;

/** whether a desired-state marker's name is a subscription's every-cluster marker */
export const isEveryClusterMarker = (name: string): boolean => name.startsWith(`${EVERY_CLUSTER}:`);

/** re-reads of a counter document after lost races before the write gives up (409) */
const INCREMENT_ATTEMPTS = 10;

export interface Versioned<T> {
  record: T;
  etag: string;
  deleted: boolean;
  updatedAt: number;
  expiresAt?: number;
}

type Envelope = Omit<DocumentEnvelope, "schemaVersion">;

export interface RepositoryOptions {
  /** protected settings and known_hosts are kept at most this long after the PUT that submitted them */
  secretsRetentionMs: number;
}

/** the 48-hour promise: protected settings and known_hosts are never kept longer (and by default this long) */
export const SECRETS_RETENTION_MAX_MS = 48 * 3600_000;

/** one item of the reconciler's outbox of changed clusters, its body parsed */
export interface ClusterWork {
  /** the stored item: deferring and retiring it are etag-conditional on this read */
  doc: StoredDocument;
  /** the cluster it names (its key) and the partition of its subscription */
  clusterKey: string;
  partition: string;
  /** failures so far, and when it may be tried again (0: at once); a touch resets both */
  attempts: number;
  retryAt: number;
}

/** the partition of a subscription's records: jobs that group work by subscription compare these */
export const subscriptionPartition = (subscriptionId: string): string => partitionOf(subscriptionId);


export class Repository {
  constructor(
    readonly store: Store,
    private readonly codec: BodyCodec = plainCodec,
    private readonly options: RepositoryOptions = { secretsRetentionMs: SECRETS_RETENTION_MAX_MS },
  ) {}

  private async toDocument(envelope: Envelope, record: object): Promise<NewDocument> {
    const body = await this.codec.encode(envelope, record as Record<string, unknown>);
    return { ...envelope, schemaVersion: SCHEMA_VERSION, body };
  }

  private async fromDocument<T>(doc: StoredDocument): Promise<Versioned<T>> {
    const record = (await this.codec.decode(doc, doc.body)) as T;
    return { record, etag: doc.etag, deleted: doc.deleted === true, updatedAt: doc.updatedAt, ...(doc.expiresAt !== undefined ? { expiresAt: doc.expiresAt } : {}) };
  }

  private async read<T>(kind: DocKind, key: string, partition: string): Promise<Versioned<T> | undefined> {
    const doc = await this.store.get(kind, key, partition);
    return doc ? this.fromDocument<T>(doc) : undefined;
  }

  /** create when etag is undefined, else replace under optimistic concurrency */
  private async write<T>(envelope: Envelope, record: T, etag: string | undefined): Promise<Versioned<T>> {
    return (await this.prepare(envelope, record, etag))();
  }

  /**
   * Encodes (seals) now, writes when called: a caller writing several documents prepares them all
   * first, so a key-provider failure cannot leave one written and the other not.
   */
  private async prepare<T>(envelope: Envelope, record: T, etag: string | undefined): Promise<() => Promise<Versioned<T>>> {
    const doc = await this.toDocument(envelope, record as object);
    return async () => {
      const stored = etag === undefined ? await this.store.create(doc) : await this.store.replace(doc, etag);
      return { record, etag: stored.etag, deleted: stored.deleted === true, updatedAt: stored.updatedAt };
    };
  }

  private async page<T>(page: Page): Promise<{ items: Versioned<T>[]; continuation?: string }> {
    const items = await Promise.all(page.items.map((doc) => this.fromDocument<T>(doc)));
    return { items, continuation: page.continuation };
  }

  // subscriptions -------------------------------------------------------------------------------

  private subscriptionEnvelope(subscriptionId: string): Envelope {
    return { kind: "subscription", key: `/subscriptions/${subscriptionId.toLowerCase()}`, partition: partitionOf(subscriptionId), parent: "" };
  }

  getSubscription(subscriptionId: string): Promise<Versioned<SubscriptionRecord> | undefined> {
    const e = this.subscriptionEnvelope(subscriptionId);
    return this.read<SubscriptionRecord>(e.kind, e.key, e.partition);
  }

  writeSubscription(record: SubscriptionRecord, etag: string | undefined): Promise<Versioned<SubscriptionRecord>> {
    return this.write(this.subscriptionEnvelope(record.subscriptionId), record, etag);
  }

  /**
   * The cascade of a Deleted subscription: everything in its partition but its own registration and
   * the data keys that registration is sealed with. Secret keys go too: their secrets are shredded.
   */
  deleteSubscriptionContent(subscriptionId: string): Promise<number> {
    return this.store.deleteMany({ partition: partitionOf(subscriptionId), kinds: ["cluster", "configuration", "configurationSecrets", "secretKey", "system", "assignment", "assignmentStatus", "clusterWork"] });
  }

  // clusters ------------------------------------------------------------------------------------

  private clusterEnvelope(record: Pick<ClusterRecord, "id" | "subscriptionId" | "resourceGroup">): Envelope {
    return {
      kind: "cluster",
      key: keyOf(record.id),
      partition: partitionOf(record.subscriptionId),
      parent: keyOf(resourceGroupId(record.subscriptionId, record.resourceGroup)),
    };
  }

  getCluster(subscriptionId: string, id: string): Promise<Versioned<ClusterRecord> | undefined> {
    return this.read<ClusterRecord>("cluster", keyOf(id), partitionOf(subscriptionId));
  }

  writeCluster(record: ClusterRecord, etag: string | undefined): Promise<Versioned<ClusterRecord>> {
    return this.write(this.clusterEnvelope(record), record, etag);
  }

  async listClusters(subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) {
    const parent = resourceGroup === undefined ? undefined : keyOf(resourceGroupId(subscriptionId, resourceGroup));
    const page = await this.store.list({ kind: "cluster", partition: partitionOf(subscriptionId), parent }, { limit, continuation });
    return this.page<ClusterRecord>(page);
  }

  /** every cluster of a scope (subscription, or one resource group), one page; bodies left sealed */
  listClusterDocuments(subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string): Promise<Page> {
    const parent = resourceGroup === undefined ? undefined : keyOf(resourceGroupId(subscriptionId, resourceGroup));
    return this.store.list({ kind: "cluster", partition: partitionOf(subscriptionId), parent }, { limit, continuation });
  }

  decodeCluster(doc: StoredDocument): Promise<Versioned<ClusterRecord>> {
    return this.fromDocument<ClusterRecord>(doc);
  }

  /**
   * Removes the cluster, then its configurations (tombstones included) and their secrets. The cluster
   * goes first: a writer that checks the cluster after writing a child (the assignment reconciler) then
   * always sees it gone, or has its child removed by the cascade. A "deleting" record, written first and
   * removed last, lets a retried DELETE or a new registration of the same id finish a deletion that
   * stopped half-way (finishPendingDeletion).
   */
  async deleteCluster(subscriptionId: string, id: string, etag: string): Promise<boolean> {
    const pending: NewDocument = { kind: "system", key: systemKey("deleting", keyOf(id)), partition: partitionOf(subscriptionId), parent: "deleting", schemaVersion: SCHEMA_VERSION, body: { deleting: true } };
    await this.createIfAbsent(pending);
    let deleted: boolean;
    try {
      deleted = await this.store.delete("cluster", keyOf(id), partitionOf(subscriptionId), etag);
    } catch (err) {
      // not deleted after all (it changed meanwhile): nothing is pending
      await this.store.delete("system", pending.key, pending.partition).catch(() => false);
      throw err;
    }
    await this.deleteClusterContent(subscriptionId, id, true);
    await this.store.delete("system", pending.key, pending.partition);
    return deleted;
  }

  /** where a deletion of this cluster id stopped half-way (a crash, a store error), its children go now */
  async finishPendingDeletion(subscriptionId: string, id: string): Promise<void> {
    const pending = await this.store.get("system", systemKey("deleting", keyOf(id)), partitionOf(subscriptionId));
    if (!pending) return;
    await this.deleteClusterContent(subscriptionId, id, true);
    await this.store.delete("system", pending.key, pending.partition, pending.etag).catch(() => false);
  }

  /**
   * What lives under a cluster id; secret keys share the cluster as parent with what they seal: this
   * shreds those. `withMarker` also removes its desired-state marker (only when the cluster is gone
   * for good: the marker of a deletion is how other replicas learn of it).
   */
  deleteClusterContent(subscriptionId: string, id: string, withMarker = false): Promise<number> {
    const kinds: DocKind[] = ["configuration", "configurationSecrets", "secretKey", ...(withMarker ? (["system"] as const) : [])];
    return this.store.deleteMany({ partition: partitionOf(subscriptionId), parent: keyOf(id), kinds });
  }

  // desired-state version markers ----------------------------------------------------------------

  /** a small plain counter per cluster, bumped on every change of its desired state: what replicas compare */
  private markerEnvelope(subscriptionId: string, clusterKey: string): Envelope {
    // keys are unique per kind across partitions (SQLite's primary key): the every-cluster marker names its subscription
    const name = clusterKey === EVERY_CLUSTER ? everyClusterMarkerName(subscriptionId) : clusterKey;
    return { kind: "system", key: systemKey("desired", name), partition: partitionOf(subscriptionId), parent: clusterKey };
  }

  async getDesiredVersion(subscriptionId: string, clusterId: string): Promise<number> {
    const e = this.markerEnvelope(subscriptionId, keyOf(clusterId));
    const doc = await this.store.get(e.kind, e.key, e.partition);
    return typeof doc?.body.version === "number" ? doc.body.version : 0;
  }

  /**
   * `clusterId` "*" marks a change of every cluster of the subscription (its Deleted cascade); a marker
   * left for a deleted cluster expires after `expiresAt` (other replicas have seen it by then).
   */
  bumpDesiredVersion(subscriptionId: string, clusterId: string, expiresAt?: number): Promise<number> {
    return this.increment(this.markerEnvelope(subscriptionId, clusterId === EVERY_CLUSTER ? EVERY_CLUSTER : keyOf(clusterId)), "version", expiresAt);
  }

  /**
   * A plain document holding one counter: created at 1 or incremented, under optimistic concurrency
   * (a lost race reads again); every increment changes the document's etag. Returns the new value.
   */
  private async increment(e: Envelope, field: string, expiresAt?: number): Promise<number> {
    // bounded: a conflict that a re-read cannot resolve must fail the request, not spin on the event loop
    for (let attempt = 0; attempt < INCREMENT_ATTEMPTS; attempt++) {
      const current = await this.store.get(e.kind, e.key, e.partition);
      const value = (typeof current?.body[field] === "number" ? current.body[field] : 0) + 1;
      const doc: NewDocument = { ...e, schemaVersion: SCHEMA_VERSION, body: { [field]: value }, ...(expiresAt !== undefined ? { expiresAt } : {}) };
      try {
        if (current) await this.store.replace(doc, current.etag);
        else await this.store.create(doc);
        return value;
      } catch (err) {
        if (!(err instanceof StoreConflictError) && !(err instanceof StorePreconditionFailedError)) throw err;
      }
    }
    throw errors.concurrentWrite();
  }

  /** a plain flag document; one already there is left as it is */
  private async createIfAbsent(doc: NewDocument): Promise<void> {
    await this.store.create(doc).catch((err: unknown) => {
      if (!(err instanceof StoreConflictError)) throw err;
    });
  }

  /** every configuration of a cluster, tombstones included (the agent's view), all pages */
  async allConfigurations(subscriptionId: string, clusterId: string): Promise<Versioned<ConfigurationRecord>[]> {
    const out: Versioned<ConfigurationRecord>[] = [];
    let continuation: string | undefined;
    do {
      const page = await this.store.list({ kind: "configuration", partition: partitionOf(subscriptionId), parent: keyOf(clusterId), includeDeleted: true }, { limit: 200, continuation });
      out.push(...(await this.page<ConfigurationRecord>(page)).items);
      continuation = page.continuation;
    } while (continuation !== undefined);
    return out;
  }

  /** a tombstone the agent reported removed disappears for good */
  async removeTombstone(subscriptionId: string, id: string, etag: string): Promise<boolean> {
    return this.store.delete("configuration", keyOf(id), partitionOf(subscriptionId), etag);
  }

  // configurations ------------------------------------------------------------------------------

  private configurationEnvelope(subscriptionId: string, record: ConfigurationRecord, deleted: boolean): Envelope {
    return { kind: "configuration", key: keyOf(record.id), partition: partitionOf(subscriptionId), parent: keyOf(record.clusterId), deleted };
  }

  /** includes tombstones: callers decide what a deleted record means to them */
  getConfiguration(subscriptionId: string, id: string): Promise<Versioned<ConfigurationRecord> | undefined> {
    return this.read<ConfigurationRecord>("configuration", keyOf(id), partitionOf(subscriptionId));
  }

  writeConfiguration(subscriptionId: string, record: ConfigurationRecord, etag: string | undefined, deleted = false) {
    return this.write(this.configurationEnvelope(subscriptionId, record, deleted), record, etag);
  }

  prepareConfiguration(subscriptionId: string, record: ConfigurationRecord, etag: string | undefined, deleted = false) {
    return this.prepare(this.configurationEnvelope(subscriptionId, record, deleted), record, etag);
  }

  async listConfigurations(subscriptionId: string, clusterId: string, limit: number, continuation?: string) {
    const query = { kind: "configuration" as const, partition: partitionOf(subscriptionId), parent: keyOf(clusterId) };
    return this.page<ConfigurationRecord>(await this.store.list(query, { limit, continuation }));
  }

  /** the live configurations of these ids, by lower-cased id */
  async getManyConfigurations(subscriptionId: string, ids: string[]): Promise<Map<string, Versioned<ConfigurationRecord>>> {
    if (ids.length === 0) return new Map();
    const docs = await this.store.getMany("configuration", ids.map(keyOf), partitionOf(subscriptionId));
    const found = await Promise.all(docs.filter((d) => d.deleted !== true).map(async (d) => [d.key, await this.fromDocument<ConfigurationRecord>(d)] as const));
    return new Map(found);
  }

  // configuration assignments -------------------------------------------------------------------

  private assignmentEnvelope(record: Pick<AssignmentRecord, "id" | "subscriptionId" | "resourceGroup">): Envelope {
    return { kind: "assignment", key: keyOf(record.id), partition: partitionOf(record.subscriptionId), parent: keyOf(assignmentScopeId(record.subscriptionId, record.resourceGroup)) };
  }

  getAssignment(subscriptionId: string, id: string): Promise<Versioned<AssignmentRecord> | undefined> {
    return this.read<AssignmentRecord>("assignment", keyOf(id), partitionOf(subscriptionId));
  }

  decodeAssignment(doc: StoredDocument): Promise<Versioned<AssignmentRecord>> {
    return this.fromDocument<AssignmentRecord>(doc);
  }

  writeAssignment(record: AssignmentRecord, etag: string | undefined): Promise<Versioned<AssignmentRecord>> {
    return this.write(this.assignmentEnvelope(record), record, etag);
  }

  /** the assignment and its status go together, once its rollout has removed what it managed */
  async deleteAssignment(record: AssignmentRecord, etag: string): Promise<boolean> {
    const e = this.assignmentEnvelope(record);
    await this.store.delete("assignmentStatus", e.key, e.partition).catch(() => false);
    return this.store.delete("assignment", e.key, e.partition, etag);
  }

  /** `resourceGroup` undefined: every assignment of the subscription, whatever its scope */
  async listAssignments(subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) {
    const parent = resourceGroup === undefined ? undefined : keyOf(resourceGroupId(subscriptionId, resourceGroup));
    return this.page<AssignmentRecord>(await this.store.list({ kind: "assignment", partition: partitionOf(subscriptionId), parent }, { limit, continuation }));
  }

  /**
   * Every assignment's document (of one subscription, or of all), a page at a time, undecoded: the
   * reconciler decodes each, so that an unreadable one is left out alone.
   */
  listAssignmentDocuments(subscriptionId: string | undefined, limit: number, continuation?: string): Promise<Page> {
    return subscriptionId === undefined
      ? this.store.scan({ kind: "assignment" }, { limit, continuation })
      : this.store.list({ kind: "assignment", partition: partitionOf(subscriptionId) }, { limit, continuation });
  }

  /**
   * The partitions (subscriptions) where a configuration, an assignment or a desired-state marker was
   * written since `since`; `truncated` when there were more than `limit` writes (treat all as changed).
   */
  async subscriptionsChangedSince(since: number, limit: number): Promise<{ partitions: Set<string>; truncated: boolean }> {
    const changes = await this.store.changedSince({ kinds: ["configuration", "assignment", "system"], since, limit });
    const partitions = new Set(changes.items.map((c) => c.partition).filter((p) => p !== SYSTEM_PARTITION));
    return { partitions, truncated: changes.truncated };
  }

  private statusEnvelope(subscriptionId: string, assignmentKey: string): Envelope {
    return { kind: "assignmentStatus", key: assignmentKey, partition: partitionOf(subscriptionId), parent: "" };
  }

  getAssignmentStatus(subscriptionId: string, assignmentId: string): Promise<Versioned<AssignmentStatus> | undefined> {
    return this.read<AssignmentStatus>("assignmentStatus", keyOf(assignmentId), partitionOf(subscriptionId));
  }

  async getManyAssignmentStatuses(subscriptionId: string, assignmentIds: string[]): Promise<Map<string, AssignmentStatus>> {
    if (assignmentIds.length === 0) return new Map();
    const docs = await this.store.getMany("assignmentStatus", assignmentIds.map(keyOf), partitionOf(subscriptionId));
    return new Map(await Promise.all(docs.map(async (d) => [d.key, (await this.fromDocument<AssignmentStatus>(d)).record] as const)));
  }

  writeAssignmentStatus(subscriptionId: string, assignmentId: string, status: AssignmentStatus, etag: string | undefined): Promise<Versioned<AssignmentStatus>> {
    return this.write(this.statusEnvelope(subscriptionId, keyOf(assignmentId)), status, etag);
  }

  /**
   * A finished asynchronous operation, so that its Location answers "done" rather than "unknown" for
   * a while. It records the resource it was issued for: the id answers only under that resource.
   */
  async recordFinishedOperation(subscriptionId: string, operationId: string, resourceId: string, expiresAt: number): Promise<void> {
    const doc: NewDocument = { kind: "system", key: systemKey("operation", operationId.toLowerCase()), partition: partitionOf(subscriptionId), parent: "operations", schemaVersion: SCHEMA_VERSION, body: { finished: true, resourceId: keyOf(resourceId) }, expiresAt };
    await this.createIfAbsent(doc);
  }

  /** whether the operation finished, issued for `resourceId` (another resource's operation id is unknown here) */
  async operationFinished(subscriptionId: string, operationId: string, resourceId: string): Promise<boolean> {
    const found = await this.store.get("system", systemKey("operation", operationId.toLowerCase()), partitionOf(subscriptionId));
    return found !== undefined && found.body.resourceId === keyOf(resourceId);
  }

  // the reconciler's outbox of changed clusters -------------------------------------------------

  /**
   * Records that a cluster's assignments must be re-evaluated. Written before the cluster (a crash
   * in between leaves work, never a miss) and again after it: the second write changes the item's
   * etag, so a reconciler that read the cluster before this write cannot retire the item.
   */
  async touchClusterWork(subscriptionId: string, clusterId: string): Promise<void> {
    // the counter replaces the whole body: a touch also clears a failed item's back-off
    await this.increment({ kind: "clusterWork", key: keyOf(clusterId), partition: partitionOf(subscriptionId), parent: "" }, "touches");
  }

  /** a work item that failed waits until `retryAt`; a touch meanwhile (a new change) wins and resets it */
  async deferClusterWork(doc: StoredDocument, attempts: number, retryAt: number): Promise<void> {
    const next: NewDocument = { kind: doc.kind, key: doc.key, partition: doc.partition, parent: doc.parent, schemaVersion: doc.schemaVersion, body: { ...doc.body, attempts, retryAt } };
    await this.store.replace(next, doc.etag).catch((err: unknown) => {
      if (!(err instanceof StorePreconditionFailedError)) throw err;
    });
  }

  /** the outbox a page at a time, in key order (a cursor, so an item that keeps failing holds up nothing) */
  async scanClusterWork(limit: number, continuation?: string): Promise<{ items: ClusterWork[]; continuation?: string }> {
    const page = await this.store.scan({ kind: "clusterWork" }, { limit, continuation });
    const items = page.items.map((doc): ClusterWork => ({
      doc,
      clusterKey: doc.key,
      partition: doc.partition,
      attempts: typeof doc.body.attempts === "number" ? doc.body.attempts : 0,
      retryAt: typeof doc.body.retryAt === "number" ? doc.body.retryAt : 0,
    }));
    return page.continuation === undefined ? { items } : { items, continuation: page.continuation };
  }

  /** the etag of the cluster a work item names, without decoding it (an unreadable cluster has one too) */
  async clusterEtagOf(work: ClusterWork): Promise<string | undefined> {
    return (await this.store.get("cluster", work.clusterKey, work.partition))?.etag;
  }

  /** retires a work item unless it was touched since it was read */
  retireClusterWork(doc: StoredDocument): Promise<boolean> {
    return this.store.delete(doc.kind, doc.key, doc.partition, doc.etag).catch((err: unknown) => {
      if (err instanceof StorePreconditionFailedError) return false;
      throw err;
    });
  }

  // configuration secrets (the sidecar) ---------------------------------------------------------

  /** the secrets expire with their retention window: every read path treats them as absent after it */
  private secretsEnvelope(subscriptionId: string, configuration: ConfigurationRecord, submittedAt: number): Envelope {
    return {
      kind: "configurationSecrets",
      key: keyOf(configuration.id),
      partition: partitionOf(subscriptionId),
      parent: keyOf(configuration.clusterId),
      expiresAt: submittedAt + this.options.secretsRetentionMs,
    };
  }

  getSecrets(subscriptionId: string, configurationId: string): Promise<Versioned<ConfigurationSecrets> | undefined> {
    return this.read<ConfigurationSecrets>("configurationSecrets", keyOf(configurationId), partitionOf(subscriptionId));
  }

  /** live secrets by lower-cased configuration id, with their expiry */
  async getManySecrets(subscriptionId: string, configurationIds: string[]): Promise<Map<string, { secrets: ConfigurationSecrets; expiresAt?: number }>> {
    if (configurationIds.length === 0) return new Map();
    const docs = await this.store.getMany("configurationSecrets", configurationIds.map(keyOf), partitionOf(subscriptionId));
    const entries = await Promise.all(
      docs.map(async (doc) => [doc.key, { secrets: (await this.fromDocument<ConfigurationSecrets>(doc)).record, expiresAt: doc.expiresAt }] as const),
    );
    return new Map(entries);
  }

  /**
   * Seals the secrets now (with a key of their own); the returned write replaces whatever secrets the
   * configuration had (a PUT is a full replace) and then destroys the key of the replaced ones.
   */
  async prepareSecrets(subscriptionId: string, configuration: ConfigurationRecord, secrets: ConfigurationSecrets): Promise<() => Promise<void>> {
    const envelope = this.secretsEnvelope(subscriptionId, configuration, secrets.submittedAt);
    const doc = await this.toDocument(envelope, secrets);
    return async () => {
      for (;;) {
        const previous = await this.store.get(envelope.kind, envelope.key, envelope.partition);
        try {
          if (previous) await this.store.replace(doc, previous.etag);
          else await this.store.create(doc);
        } catch (err) {
          if (err instanceof StoreConflictError || err instanceof StorePreconditionFailedError) continue;
          throw err;
        }
        if (previous) await this.codec.discard?.(previous, previous.body);
        return;
      }
    };
  }

  /** deletes the secrets and destroys their key; true when there were secrets to delete */
  async deleteSecrets(subscriptionId: string, configurationId: string): Promise<boolean> {
    const previous = await this.store.get("configurationSecrets", keyOf(configurationId), partitionOf(subscriptionId));
    if (!previous) return false;
    // the key first: once it is gone the secrets cannot be opened, even if the delete below never happens
    await this.codec.discard?.(previous, previous.body);
    // by etag: secrets a concurrent PUT just wrote (with a new key) are not ours to delete
    return this.store.delete(previous.kind, previous.key, previous.partition, previous.etag).catch((err: unknown) => {
      if (err instanceof StorePreconditionFailedError) return false;
      throw err;
    });
  }

  /**
   * Purge of one expired secrets document found by the sweeper: destroy its key (crypto-shredding),
   * then delete it. Idempotent: a second sweeper, or a rerun after a crash, finds the work done.
   */
  async purgeExpiredSecrets(doc: StoredDocument): Promise<boolean> {
    await this.codec.discard?.(doc, doc.body);
    return this.store.delete(doc.kind, doc.key, doc.partition, doc.etag).catch((err: unknown) => {
      if (err instanceof StorePreconditionFailedError) return false; // replaced meanwhile by a new PUT: not ours to purge
      throw err;
    });
  }
}
