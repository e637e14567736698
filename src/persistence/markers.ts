/**
 * Desired-state version markers: a small plain counter per cluster (and one per subscription for
 * "every cluster"), bumped on every change of what its agent must see; replicas compare them, and the
 * change watcher replays their writes. Typed system records of kind `desired`.
 */
import { EVERY_CLUSTER, keyOf, partitionOf, storedClusterKey, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import { isSystemKey, systemKey, systemKeyName, type ChangedDocument } from "../store/port.js";
import { Collection, type CollectionDeps, type Place } from "./collection.js";

interface Marker {
  version: number;
}

/** the name of a subscription's every-cluster marker (its Deleted cascade): keys are unique per kind across partitions */
const everyClusterMarkerName = (subscriptionId: string): string => `${EVERY_CLUSTER}:${subscriptionId.toLowerCase()}`;

/** whether a desired-state marker's name is a subscription's every-cluster marker */
export const isEveryClusterMarker = (name: string): boolean => name.startsWith(`${EVERY_CLUSTER}:`);

/** the cluster key a changed marker announces (EVERY_CLUSTER for a subscription's), or undefined if it is no marker */
export function announcedBy(doc: Pick<ChangedDocument, "key">): ClusterKey | typeof EVERY_CLUSTER | undefined {
  if (!isSystemKey("desired", doc.key)) return undefined;
  const name = systemKeyName("desired", doc.key);
  return isEveryClusterMarker(name) ? EVERY_CLUSTER : storedClusterKey(name);
}

export class Markers {
  private readonly markers: Collection<Marker>;

  constructor(deps: CollectionDeps) {
    this.markers = new Collection<Marker>(deps, "system");
  }

  private place(subscriptionId: string, clusterKey: string, expiresAt?: number): Place {
    // keys are unique per kind across partitions (SQLite's primary key): the every-cluster marker names its subscription
    const name = clusterKey === EVERY_CLUSTER ? everyClusterMarkerName(subscriptionId) : clusterKey;
    return { key: systemKey("desired", name), partition: partitionOf(subscriptionId), parent: clusterKey, ...(expiresAt !== undefined ? { expiresAt } : {}) };
  }

  async version(subscriptionId: string, clusterId: string): Promise<number> {
    const p = this.place(subscriptionId, keyOf(clusterId));
    const found = await this.markers.get(p.key, p.partition);
    return typeof found?.record.version === "number" ? found.record.version : 0;
  }

  /**
   * `clusterId` "*" marks a change of every cluster of the subscription (its Deleted cascade); a marker
   * left for a deleted cluster expires after `expiresAt` (other replicas have seen it by then). Every
   * bump changes the marker's etag and its version; it is the engine's own counter (no read, no race),
   * committed with the request's other writes when it runs in a unit of work.
   */
  async bump(subscriptionId: string, clusterId: ClusterId | ClusterKey | typeof EVERY_CLUSTER, expiresAt?: number): Promise<void> {
    const place = this.place(subscriptionId, clusterId === EVERY_CLUSTER ? EVERY_CLUSTER : keyOf(clusterId), expiresAt);
    await this.markers.increment(place, "version");
  }
}
