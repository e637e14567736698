/**
 * Flux v2 fluxConfigurations of a cluster (issue #16), tombstones included (a deleted one stays until its
 * agent reports it removed, unless deleted with forceDelete). Kept as v1 configurations are: one sealed
 * document per resource, listed under its cluster; the protected settings are a secrets document of
 * their own (src/persistence/secrets.ts), keyed by the fluxConfiguration's id.
 */
import { keyOf, partitionOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import type { FluxConfigurationRecord } from "../domain/types.js";
import { Collection, type CollectionDeps, type Place, type StoredDocument, type Versioned } from "./collection.js";

export class FluxConfigurations {
  private readonly items: Collection<FluxConfigurationRecord>;

  constructor(deps: CollectionDeps) {
    this.items = new Collection<FluxConfigurationRecord>(deps, "fluxConfiguration");
  }

  private place(subscriptionId: string, record: FluxConfigurationRecord, deleted: boolean): Place {
    return { key: keyOf(record.id), partition: partitionOf(subscriptionId), parent: keyOf(record.clusterId), deleted };
  }

  /** includes tombstones: callers decide what a deleted record means to them */
  get(subscriptionId: string, id: string): Promise<Versioned<FluxConfigurationRecord> | undefined> {
    return this.items.get(keyOf(id), partitionOf(subscriptionId));
  }

  write(subscriptionId: string, record: FluxConfigurationRecord, etag: string | undefined, deleted = false): Promise<Versioned<FluxConfigurationRecord>> {
    return this.items.write(this.place(subscriptionId, record, deleted), record, etag);
  }

  /** sealed now, written when called (see Collection.prepare) */
  prepare(subscriptionId: string, record: FluxConfigurationRecord, etag: string | undefined, deleted = false): Promise<() => Promise<Versioned<FluxConfigurationRecord>>> {
    return this.items.prepare(this.place(subscriptionId, record, deleted), record, etag);
  }

  /** one page of a cluster's live fluxConfigurations */
  page(subscriptionId: string, clusterId: ClusterId | ClusterKey, limit: number, continuation?: string) {
    return this.items.page({ partition: partitionOf(subscriptionId), parent: keyOf(clusterId) }, limit, continuation);
  }

  /** every fluxConfiguration of a cluster, tombstones included (the agent's view), all pages */
  async all(subscriptionId: string, clusterId: ClusterId | ClusterKey): Promise<Versioned<FluxConfigurationRecord>[]> {
    const out: Versioned<FluxConfigurationRecord>[] = [];
    for await (const docs of this.items.pages({ partition: partitionOf(subscriptionId), parent: keyOf(clusterId), includeDeleted: true })) {
      out.push(...(await Promise.all(docs.map((d) => this.items.decode(d)))));
    }
    return out;
  }

  /** the live fluxConfigurations of these ids, by lower-cased id */
  async getMany(subscriptionId: string, ids: string[]): Promise<Map<string, Versioned<FluxConfigurationRecord>>> {
    const docs = await this.items.documents(ids.map(keyOf), partitionOf(subscriptionId));
    const found = await Promise.all(docs.filter((d) => d.deleted !== true).map(async (d) => [d.key, await this.items.decode(d)] as const));
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
    return this.items.decode(doc);
  }

  /** a tombstone the agent reported removed (or a forced delete) disappears for good */
  remove(subscriptionId: string, id: string, etag: string): Promise<boolean> {
    return this.items.delete(keyOf(id), partitionOf(subscriptionId), etag);
  }
}
