/**
 * The Flux major version of each cluster (issue #16: a cluster carries Flux v1 sourceControlConfigurations
 * or Flux v2 fluxConfigurations, not both): one small plain document per cluster, `fluxVersion:<cluster>`
 * of kind "system" in the subscription's partition, saying `v1`, `v2` or `mixed` (a migration that left
 * some v1 configurations in place).
 *
 * Why a document: the rule is a read of the other kind followed by a write, and two first writes of
 * different kinds on an empty cluster could both pass their read. Every FIRST write of a live
 * configuration of either kind (a new name, or over a tombstone) claims this document in its unit of
 * work: created when absent, else replaced under the etag read during the check (when the document
 * already says the writer's kind: under the etag read again at the end of the attempt, see claim). So two
 * such units of different kinds on one cluster cannot both commit: the loser's commit fails (a lost race),
 * its retry reads again and sees the other kind. A replace of a live configuration needs no claim: its own etag condition fails if the
 * record was deleted meanwhile, and a switch of version needs every record of the old kind gone.
 *
 * When the document says the writer's kind, no list of the other kind is needed (none is live: every
 * switch listed them); otherwise the other kind is listed (its first live record names the conflict).
 * docs/design/flux-v2.md, "One Flux major version per cluster".
 */
import { errors } from "../arm/errors.js";
import { keyOf, partitionOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import { StorePreconditionFailedError, systemKey, type DocKind, type StoredDocument } from "../store/port.js";
import { Collection, type CollectionDeps, type Place } from "./collection.js";
import { currentUnit, inUnitOfWork, type UnitOfWork } from "./unit-of-work.js";

export type FluxVersion = "v1" | "v2";
export type FluxVersionState = FluxVersion | "mixed";

interface FluxVersionRecord {
  version: FluxVersionState;
}

const KIND_OF: Record<FluxVersion, DocKind> = { v1: "configuration", v2: "fluxConfiguration" };
const other = (v: FluxVersion): FluxVersion => (v === "v1" ? "v2" : "v1");

/** how long a unit waits for this process's earlier claimant of the same cluster before it goes ahead (takeTurn) */
const TURN_WAIT_MS = 2000;

/** how many etags of configuration documents are remembered as live or tombstone (a bounded memo) */
const LIVENESS_MEMO = 20_000;

export class FluxVersions {
  private readonly docs: Collection<FluxVersionRecord>;
  private readonly kinds: Record<FluxVersion, Collection<{ name?: string }>>;
  /** etag -> whether that version of a configuration document was a tombstone (etags are unique UUIDs) */
  private readonly tombstone = new Map<string, boolean>();

  constructor(private readonly deps: CollectionDeps) {
    this.docs = new Collection<FluxVersionRecord>(deps, "system");
    this.kinds = { v1: new Collection(deps, "configuration"), v2: new Collection(deps, "fluxConfiguration") };
  }

  private place(subscriptionId: string, cluster: ClusterId | ClusterKey): Place {
    const clusterKey = keyOf(cluster) as ClusterKey;
    return { key: systemKey("fluxVersion", clusterKey), partition: partitionOf(subscriptionId), parent: clusterKey };
  }

  /** the cluster's recorded version (undefined: none recorded yet, e.g. a cluster older than this record) */
  async state(subscriptionId: string, cluster: ClusterId | ClusterKey): Promise<FluxVersionState | undefined> {
    const p = this.place(subscriptionId, cluster);
    return (await this.docs.get(p.key, p.partition))?.record.version;
  }

  /** remembers whether a configuration document read anywhere was a tombstone (the write guard asks) */
  observe(doc: Pick<StoredDocument, "etag" | "deleted">): void {
    if (this.tombstone.size >= LIVENESS_MEMO) this.tombstone.delete(this.tombstone.keys().next().value as string);
    this.tombstone.set(doc.etag, doc.deleted === true);
  }

  /** the name of a live configuration of kind `version` on the cluster (not one this unit retires), if any */
  private async liveOf(version: FluxVersion, subscriptionId: string, clusterKey: ClusterKey, unit: UnitOfWork | undefined): Promise<string | undefined> {
    const collection = this.kinds[version];
    for await (const docs of collection.pages({ partition: partitionOf(subscriptionId), parent: clusterKey }, 20)) {
      for (const doc of docs) {
        const staged = unit?.read(KIND_OF[version], doc.key);
        if (staged && ("absent" in staged || staged.doc.deleted === true)) continue; // retired in this unit
        return (await collection.decode(doc)).record.name ?? doc.key.slice(doc.key.lastIndexOf("/") + 1);
      }
    }
    return undefined;
  }

  /**
   * A live configuration of `version` is about to be written for the first time (a new name, or over a
   * tombstone), inside the caller's unit of work: stages the per-cluster document (created, or replaced
   * under the etag read now), once per unit and cluster. Returns the name of a live configuration of the
   * other kind when the rule refuses the write (nothing staged then); `allowMixed` (the migration, which
   * retires the v1 configurations in the same unit) never refuses.
   */
  async claim(subscriptionId: string, cluster: ClusterId | ClusterKey, version: FluxVersion, allowMixed = false): Promise<string | undefined> {
    const unit = currentUnit();
    if (!unit) throw new Error("FluxVersions.claim runs inside a unit of work (Persistence.atomically)");
    const place = this.place(subscriptionId, cluster);
    const claimed = unit.claimed(place.key);
    if (claimed === version || claimed === "mixed") return undefined;
    const found = await this.docs.get(place.key, place.partition);
    if (found?.record.version === version) {
      // already this kind (so none of the other kind is live): the claim is staged at the end of the attempt,
      // under the etag read then, while this process's other claimants of the cluster wait their turn
      unit.claim(place.key, version);
      unit.beforeCommit(async () => {
        await this.takeTurn(place.key, unit);
        // the previous claimant of this process committed the document with an etag it chose: no read needed
        const known = this.committed.get(place.key);
        let etag = known?.version === version ? known.etag : undefined;
        if (known === undefined) {
          const now = await this.docs.get(place.key, place.partition);
          if (now?.record.version === version) etag = now.etag;
        }
        if (etag === undefined) throw new StorePreconditionFailedError("system", place.key); // switched meanwhile: the retry reads again
        const written = await this.docs.write(place, { version }, etag);
        // what the next claimant in turn writes under: this unit's etag once its commit is queued (if it then
        // fails, so does the next one's condition, and that retry reads afresh)
        unit.onSubmitted(() => this.committed.set(place.key, { etag: written.etag, version }));
        unit.onClose((committed) => {
          if (!committed && this.committed.get(place.key)?.etag === written.etag) this.committed.delete(place.key);
          if (!committed && this.committed.get(place.key)?.etag === etag) this.committed.delete(place.key);
        });
      });
      return undefined;
    }
    let next: FluxVersionState = version;
    const conflict = await this.liveOf(other(version), subscriptionId, keyOf(cluster) as ClusterKey, unit);
    if (conflict !== undefined && !allowMixed) return conflict;
    if (conflict !== undefined) next = "mixed";
    // a switch (or the first claim): conditional on the etag read BEFORE the list, so no first write of the
    // old kind can commit between the list and this commit
    await this.docs.write(place, { version: next }, found?.etag);
    unit.claim(place.key, next);
    this.committed.delete(place.key);
    unit.onClose(() => this.committed.delete(place.key));
    return undefined;
  }

  /**
   * per document: the etag and version of this process's last committed same-kind claim of it, so the next
   * claimant in turn writes under it without reading again (a stale one - another replica wrote since, or a
   * switch - fails that commit and its retry reads afresh). Bounded like the liveness memo.
   */
  private readonly committed = new Map<string, { etag: string; version: FluxVersionState }>();

  /** per document: the tail of the queue of this process's units that claimed it (see takeTurn) */
  private readonly turns = new Map<string, Promise<void>>();

  /**
   * Units of this process claiming one cluster's document take turns, each until it commits or fails: a
   * burst of first writes on one cluster (a script creating 30 configurations at once) then queues
   * instead of losing the race to each other at commit and running out of retries. Only an optimisation:
   * the etag-conditional write is what keeps the rule (across replicas too), so a unit waits at most
   * TURN_WAIT_MS (no deadlock between units that claim several clusters in different orders).
   */
  private async takeTurn(key: string, unit: UnitOfWork): Promise<void> {
    if (this.committed.size >= LIVENESS_MEMO) this.committed.delete(this.committed.keys().next().value as string);
    const previous = this.turns.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.turns.set(key, tail);
    const done = () => {
      release();
      if (this.turns.get(key) === tail) this.turns.delete(key);
    };
    // SQLite applies queued commits in order (its group commit: one transaction, a savepoint per unit), so the
    // next claimant may go as soon as this one's commit is queued and join the same group under the etag this
    // one staged; elsewhere (Cosmos DB: one batch per request, in no set order) it waits for the commit
    if (this.deps.store.engine === "sqlite") unit.onSubmitted(done);
    unit.onClose(done);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([previous, new Promise<void>((resolve) => (timer = setTimeout(resolve, TURN_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /**
   * The rule for a write that replaces a LIVE configuration of `version` (no claim needed: its own etag
   * guards it): the name of a live configuration of the other kind, if the cluster carries one.
   */
  async check(subscriptionId: string, cluster: ClusterId | ClusterKey, version: FluxVersion): Promise<string | undefined> {
    if ((await this.state(subscriptionId, cluster)) === version) return undefined;
    return this.liveOf(other(version), subscriptionId, keyOf(cluster) as ClusterKey, currentUnit());
  }

  /**
   * The guard every write of a live configuration document goes through (persistence's configurations and
   * fluxConfigurations): a first write (created, or over a tombstone) claims the cluster's version unless
   * its unit already did; a refusal is the rule's 409. Outside a unit of work, the claim and the write get
   * one of their own.
   */
  async guard<R>(version: FluxVersion, subscriptionId: string, doc: { key: string; clusterId: ClusterId }, etag: string | undefined, write: () => Promise<R>): Promise<R> {
    if (!(await this.isFirstWrite(version, subscriptionId, doc.key, etag))) return write();
    const run = async (): Promise<R> => {
      const conflict = await this.claim(subscriptionId, doc.clusterId, version);
      if (conflict !== undefined) throw this.refusal(version, doc.clusterId, conflict);
      return write();
    };
    return currentUnit() ? run() : inUnitOfWork(this.deps.store, Date.now, run);
  }

  /** the rule's 409, naming the cluster and one configuration of the other kind */
  private refusal(want: FluxVersion, clusterId: ClusterId, existing: string): Error {
    return errors.fluxVersionConflict(want, clusterId.slice(clusterId.lastIndexOf("/") + 1), existing);
  }

  private async isFirstWrite(version: FluxVersion, subscriptionId: string, key: string, etag: string | undefined): Promise<boolean> {
    if (etag === undefined) return true;
    const staged = currentUnit()?.read(KIND_OF[version], key);
    if (staged) return "absent" in staged || staged.doc.deleted === true;
    const known = this.tombstone.get(etag);
    if (known !== undefined) return known;
    // not read through this process's persistence: look (a write under a stale etag fails anyway)
    const current = await this.kinds[version].document(key, partitionOf(subscriptionId));
    return current !== undefined && current.etag === etag && current.deleted === true;
  }
}
