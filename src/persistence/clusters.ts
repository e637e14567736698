/**
 * Connected clusters, and the cascade of a cluster's deletion (its configurations, their secrets and
 * secret keys, its desired-state marker), made resumable by a `deleting` record.
 */
import { keyOf, partitionOf, resourceGroupId, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import type { ClusterRecord } from "../domain/types.js";
import { systemKey, type DocKind, type Page, type StoredDocument } from "../store/port.js";
import { Collection, type CollectionDeps, type PagesQuery, type Place, type Versioned } from "./collection.js";

/** a deletion under way: written first and removed last, so a later request can finish it */
interface PendingDeletion {
  deleting: true;
}

export class Clusters {
  private readonly clusters: Collection<ClusterRecord>;
  private readonly pending: Collection<PendingDeletion>;

  constructor(private readonly deps: CollectionDeps) {
    this.clusters = new Collection<ClusterRecord>(deps, "cluster");
    this.pending = new Collection<PendingDeletion>(deps, "system");
  }

  private place(record: Pick<ClusterRecord, "id" | "subscriptionId" | "resourceGroup">): Place {
    return { key: keyOf(record.id), partition: partitionOf(record.subscriptionId), parent: keyOf(resourceGroupId(record.subscriptionId, record.resourceGroup)) };
  }

  private scope(subscriptionId: string, resourceGroup: string | undefined): PagesQuery {
    const parent = resourceGroup === undefined ? undefined : keyOf(resourceGroupId(subscriptionId, resourceGroup));
    return { partition: partitionOf(subscriptionId), parent };
  }

  /** by the cluster's id or its store key */
  get(subscriptionId: string, id: ClusterId | ClusterKey): Promise<Versioned<ClusterRecord> | undefined> {
    return this.clusters.get(keyOf(id), partitionOf(subscriptionId));
  }

  /** several clusters of one subscription in one round trip, bodies left sealed; missing ones are left out */
  documents(subscriptionId: string, keys: ClusterKey[]): Promise<StoredDocument[]> {
    return this.clusters.documents(keys, partitionOf(subscriptionId));
  }

  write(record: ClusterRecord, etag: string | undefined): Promise<Versioned<ClusterRecord>> {
    return this.clusters.write(this.place(record), record, etag);
  }

  decode(doc: StoredDocument): Promise<Versioned<ClusterRecord>> {
    return this.clusters.decode(doc);
  }

  /** the etag of a stored cluster, without decoding it (an unreadable cluster has one too) */
  async etagOf(clusterKey: string, partition: string): Promise<string | undefined> {
    return (await this.clusters.document(clusterKey, partition))?.etag;
  }

  /** one page of a scope (subscription, or one resource group), decoded */
  page(subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) {
    return this.clusters.page(this.scope(subscriptionId, resourceGroup), limit, continuation);
  }

  /** one page of a scope, bodies left sealed (a caller that must skip an unreadable one decodes each) */
  pageDocuments(subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string): Promise<Page> {
    return this.clusters.pageOf(this.scope(subscriptionId, resourceGroup), limit, continuation);
  }

  /** every page of a scope, undecoded */
  pages(subscriptionId: string, resourceGroup: string | undefined, pageSize: number): AsyncGenerator<StoredDocument[]> {
    return this.clusters.pages(this.scope(subscriptionId, resourceGroup), pageSize);
  }

  /** every cluster of every subscription, a page at a time, undecoded (start-up checks) */
  everyPage(pageSize: number): AsyncGenerator<StoredDocument[]> {
    return this.clusters.pages({ scan: true }, pageSize);
  }

  /**
   * Removes the cluster, then its configurations (tombstones included) and their secrets. The cluster
   * goes first: a writer that checks the cluster after writing a child (the assignment reconciler) then
   * always sees it gone, or has its child removed by the cascade. A "deleting" record, written first and
   * removed last, lets a retried DELETE or a new registration of the same id finish a deletion that
   * stopped half-way (finishPendingDeletion).
   */
  async delete(subscriptionId: string, id: string, etag: string): Promise<boolean> {
    const marker: Place = { key: systemKey("deleting", keyOf(id)), partition: partitionOf(subscriptionId), parent: "deleting" };
    await this.pending.createIfAbsent(marker, { deleting: true });
    let deleted: boolean;
    try {
      deleted = await this.clusters.delete(keyOf(id), partitionOf(subscriptionId), etag);
    } catch (err) {
      // not deleted after all (it changed meanwhile): nothing is pending
      await this.pending.delete(marker.key, marker.partition).catch(() => false);
      throw err;
    }
    await this.deleteContent(subscriptionId, id, true);
    await this.pending.delete(marker.key, marker.partition);
    return deleted;
  }

  /** where a deletion of this cluster id stopped half-way (a crash, a store error), its children go now */
  async finishPendingDeletion(subscriptionId: string, id: string): Promise<void> {
    const found = await this.pending.document(systemKey("deleting", keyOf(id)), partitionOf(subscriptionId));
    if (!found) return;
    await this.deleteContent(subscriptionId, id, true);
    await this.pending.delete(found.key, found.partition, found.etag).catch(() => false);
  }

  /**
   * What lives under a cluster id; secret keys share the cluster as parent with what they seal: this
   * shreds those. `withMarker` also removes its desired-state marker (only when the cluster is gone
   * for good: the marker of a deletion is how other replicas learn of it). One step over many documents.
   */
  deleteContent(subscriptionId: string, id: string, withMarker = false): Promise<number> {
    const kinds: DocKind[] = ["configuration", "fluxConfiguration", "configurationSecrets", "secretKey", ...(withMarker ? (["system"] as const) : [])];
    return this.deps.writer.deleteMany({ partition: partitionOf(subscriptionId), parent: keyOf(id), kinds });
  }
}
