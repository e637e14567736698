/** Configurations of a cluster, tombstones included (a deleted one stays until its agent reports it removed). */
import { keyOf, partitionOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import type { ConfigurationRecord } from "../domain/types.js";
import { Collection, type CollectionDeps, type Place, type StoredDocument, type Versioned } from "./collection.js";
import type { FluxVersions } from "./flux-versions.js";

export class Configurations {
  private readonly configurations: Collection<ConfigurationRecord>;

  /** Azure's one-Flux-version rule: a first write of a live configuration claims the cluster's version (flux-versions.ts) */
  constructor(deps: CollectionDeps, private readonly versions: FluxVersions) {
    this.configurations = new Collection<ConfigurationRecord>(deps, "configuration");
  }

  private seen<D extends { etag: string; deleted?: boolean }>(doc: D): D {
    this.versions.observe(doc);
    return doc;
  }

  private place(subscriptionId: string, record: ConfigurationRecord, deleted: boolean): Place {
    return { key: keyOf(record.id), partition: partitionOf(subscriptionId), parent: keyOf(record.clusterId), deleted };
  }

  /** includes tombstones: callers decide what a deleted record means to them */
  async get(subscriptionId: string, id: string): Promise<Versioned<ConfigurationRecord> | undefined> {
    const found = await this.configurations.get(keyOf(id), partitionOf(subscriptionId));
    return found && this.seen(found);
  }

  async write(subscriptionId: string, record: ConfigurationRecord, etag: string | undefined, deleted = false): Promise<Versioned<ConfigurationRecord>> {
    return (await this.prepare(subscriptionId, record, etag, deleted))();
  }

  /** sealed now, written when called (see Collection.prepare); a first live write claims the cluster's Flux version */
  async prepare(subscriptionId: string, record: ConfigurationRecord, etag: string | undefined, deleted = false): Promise<() => Promise<Versioned<ConfigurationRecord>>> {
    const write = await this.configurations.prepare(this.place(subscriptionId, record, deleted), record, etag);
    if (deleted) return write;
    return () => this.versions.guard("v1", subscriptionId, { key: keyOf(record.id), clusterId: record.clusterId }, etag, write);
  }

  /** one page of a cluster's live configurations */
  page(subscriptionId: string, clusterId: ClusterId | ClusterKey, limit: number, continuation?: string) {
    return this.configurations.page({ partition: partitionOf(subscriptionId), parent: keyOf(clusterId) }, limit, continuation);
  }

  /** every configuration of a cluster, tombstones included (the agent's view), all pages */
  async all(subscriptionId: string, clusterId: ClusterId | ClusterKey): Promise<Versioned<ConfigurationRecord>[]> {
    const out: Versioned<ConfigurationRecord>[] = [];
    for await (const docs of this.configurations.pages({ partition: partitionOf(subscriptionId), parent: keyOf(clusterId), includeDeleted: true })) {
      out.push(...(await Promise.all(docs.map((d) => this.decode(d)))));
    }
    return out;
  }

  /** the live configurations of these ids, by lower-cased id */
  async getMany(subscriptionId: string, ids: string[]): Promise<Map<string, Versioned<ConfigurationRecord>>> {
    const docs = await this.configurations.documents(ids.map(keyOf), partitionOf(subscriptionId));
    const found = await Promise.all(docs.filter((d) => d.deleted !== true).map(async (d) => [d.key, await this.decode(d)] as const));
    return new Map(found);
  }

  /** these ids in one round trip, tombstones included, bodies left sealed (the caller decodes each); missing ones are left out */
  async documents(subscriptionId: string, ids: string[]): Promise<StoredDocument[]> {
    return (await this.configurations.documents(ids.map(keyOf), partitionOf(subscriptionId))).map((d) => this.seen(d));
  }

  decode(doc: StoredDocument): Promise<Versioned<ConfigurationRecord>> {
    return this.configurations.decode(this.seen(doc));
  }

  /** every configuration of every subscription, page by page, bodies left sealed (background jobs: the Key Vault resolver) */
  scan(pageSize = 200): AsyncGenerator<StoredDocument[]> {
    return this.configurations.pages({ scan: true }, pageSize);
  }

  /** a tombstone the agent reported removed disappears for good */
  removeTombstone(subscriptionId: string, id: string, etag: string): Promise<boolean> {
    return this.configurations.delete(keyOf(id), partitionOf(subscriptionId), etag);
  }
}
