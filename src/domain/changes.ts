/**
 * In-process change notifications: the domain announces what it changed, the agent-facing caches
 * listen. Exact within one process; across replicas the caches fall back to a bounded-staleness
 * check of a version marker in the store (see desired-state.ts).
 */
import { EventEmitter } from "node:events";
import { EVERY_CLUSTER, storedClusterKey as keyOfCluster, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";

/** jobs reach ids only through the domain */
export { EVERY_CLUSTER, storedClusterKey } from "../arm/resource-ids.js";
import type { Persistence } from "../persistence/index.js";

export interface ClusterChange {
  /** lower-cased cluster id, or "*" for every cluster (too many changes to name them) */
  clusterKey: ClusterKey | typeof EVERY_CLUSTER;
  /** "configurations": the desired state changed; "identity": the agent key changed or the cluster went away */
  what: "configurations" | "identity";
}

export class ChangeBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // one listener per cache plus one per long-poll waiter: the count is bounded by connections, not a leak
    this.emitter.setMaxListeners(0);
  }

  emit(change: ClusterChange): void {
    this.emitter.emit("change", change);
  }

  on(listener: (change: ClusterChange) => void): () => void {
    this.emitter.on("change", listener);
    return () => this.emitter.off("change", listener);
  }
}

/** a marker left for something deleted outlives it this long: every replica has looked by then */
export const DELETED_MARKER_LIFETIME_MS = 86_400_000;

/**
 * A change agents care about: bump the cluster's version marker (how other replicas learn of it, see
 * src/jobs/change-watcher.ts) and tell this process's caches at once. `clusterId` "*" stands for every cluster
 * of the subscription; `markerExpiresAt` is set when the cluster (or subscription content) is gone.
 */
export async function announce(
  repo: Pick<Persistence, "markers" | "afterCommit">,
  bus: ChangeBus | undefined,
  subscriptionId: string,
  /** a cluster id or its store key (only the key is announced), or EVERY_CLUSTER */
  clusterId: ClusterId | ClusterKey | typeof EVERY_CLUSTER,
  what: ClusterChange["what"],
  markerExpiresAt?: number,
): Promise<void> {
  const tell = () => bus?.emit({ clusterKey: clusterId === EVERY_CLUSTER ? EVERY_CLUSTER : keyOfCluster(clusterId), what });
  try {
    await repo.markers.bump(subscriptionId, clusterId, markerExpiresAt);
  } catch (err) {
    // outside a unit of work the write this follows already happened: this process's caches drop the
    // cluster even when the marker could not be written, so a replaced key is never kept here
    tell();
    throw err;
  }
  // in a unit of work the marker commits with the change it announces: caches hear of it once both are
  // stored (a cache refilled before the commit would keep the old state)
  repo.afterCommit(tell);
}
