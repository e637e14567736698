/**
 * Flux v2 fluxConfigurations of a cluster (issue #16), tombstones included (a deleted one stays until its
 * agent reports it removed, unless deleted with forceDelete). Kept as v1 configurations are: one sealed
 * document per resource, listed under its cluster; the protected settings are a secrets document of
 * their own (src/persistence/secrets.ts), keyed by the fluxConfiguration's id.
 */
import { keyOf, partitionOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import type { FluxConfigurationRecord } from "../domain/types.js";
import { Collection, type CollectionDeps, type Place, type StoredDocument, type Versioned } from "./collection.js";
import type { FluxVersions } from "./flux-versions.js";

export class FluxConfigurations {
  private readonly items: Collection<FluxConfigurationRecord>;

  /** Azure's one-Flux-version rule: a first write of a live fluxConfiguration claims the cluster's version (flux-versions.ts) */
  constructor(deps: CollectionDeps, private readonly versions: FluxVersions) {
    this.items = new Collection<FluxConfigurationRecord>(deps, "fluxConfiguration");
  }

  private seen<D extends { etag: string; deleted?: boolean }>(doc: D): D {
    this.versions.observe(doc);
    return doc;
  }

  private place(subscriptionId: string, record: FluxConfigurationRecord, deleted: boolean): Place {
    return { key: keyOf(record.id), partition: partitionOf(subscriptionId), parent: keyOf(record.clusterId), deleted };
  }

  /** includes tombstones: callers decide what a deleted record means to them */
  async get(subscriptionId: string, id: string): Promise<Versioned<FluxConfigurationRecord> | undefined> {
    const found = await this.items.get(keyOf(id), partitionOf(subscriptionId));
    return found && this.seen(found);
  }

  async write(subscriptionId: string, record: FluxConfigurationRecord, etag: string | undefined, deleted = false): Promise<Versioned<FluxConfigurationRecord>> {
    return (await this.prepare(subscriptionId, record, etag, deleted))();
  }

  /** sealed now, written when called (see Collection.prepare); a first live write claims the cluster's Flux version */
  async prepare(subscriptionId: string, record: FluxConfigurationRecord, etag: string | undefined, deleted = false): Promise<() => Promise<Versioned<FluxConfigurationRecord>>> {
    const write = await this.items.prepare(this.place(subscriptionId, record, deleted), record, etag);
    if (deleted) return write;
    return () => this.versions.guard("v2", subscriptionId, { key: keyOf(record.id), clusterId: record.clusterId }, etag, write);
  }

  /** one page of a cluster's live fluxConfigurations */
  page(subscriptionId: string, clusterId: ClusterId | ClusterKey, limit: number, continuation?: string) {
    return this.items.page({ partition: partitionOf(subscriptionId), parent: keyOf(clusterId) }, limit, continuation);
  }

  /** every fluxConfiguration of a cluster, tombstones included (the agent's view), all pages */
  async all(subscriptionId: string, clusterId: ClusterId | ClusterKey): Promise<Versioned<FluxConfigurationRecord>[]> {
    const out: Versioned<FluxConfigurationRecord>[] = [];
    for await (const docs of this.items.pages({ partition: partitionOf(subscriptionId), parent: keyOf(clusterId), includeDeleted: true })) {
      out.push(...(await Promise.all(docs.map((d) => this.decode(d)))));
    }
    return out;
  }

  /** the live fluxConfigurations of these ids, by lower-cased id */
  async getMany(subscriptionId: string, ids: string[]): Promise<Map<string, Versioned<FluxConfigurationRecord>>> {
    const docs = await this.items.documents(ids.map(keyOf), partitionOf(subscriptionId));
    const found = await Promise.all(docs.filter((d) => d.deleted !== true).map(async (d) => [d.key, await this.decode(d)] as const));
    return new Map(found);
  }

  /** these ids in one round trip, tombstones included, bodies left sealed (the caller decodes each); missing ones are left out */
  documents(subscriptionId: string, ids: string[]): Promise<StoredDocument[]> {
    return this.items.documents(ids.map(keyOf), partitionOf(subscriptionId));
  }

  /** whether the subscription has any live fluxConfiguration (one small query: assignment rollouts skip the per-cluster Flux version check without) */
  async anyInSubscription(subscriptionId: string): Promise<boolean> {
    return (await this.items.page({ partition: partitionOf(subscriptionId) }, 1)).items.length > 0;
  }

  decode(doc: StoredDocument): Promise<Versioned<FluxConfigurationRecord>> {
    return this.items.decode(this.seen(doc));
  }

  /** a tombstone the agent reported removed (or a forced delete) disappears for good */
  remove(subscriptionId: string, id: string, etag: string): Promise<boolean> {
    return this.items.delete(keyOf(id), partitionOf(subscriptionId), etag);
  }
}
