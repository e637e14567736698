/**
 * The reconciler's outbox of changed clusters: an item per cluster whose assignments must be
 * re-evaluated (created, or its tags changed), with its back-off after failures.
 */
import { keyOf, partitionOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import type { StoredDocument } from "../store/port.js";
import { Collection, type CollectionDeps } from "./collection.js";

/** a touch counter, and after failures how many and when the item may be tried again */
interface WorkBody {
  touches: number;
  attempts?: number;
  retryAt?: number;
}

/** one item of the outbox, its body parsed */
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

const workOf = (doc: StoredDocument): ClusterWork => ({
  doc,
  clusterKey: doc.key,
  partition: doc.partition,
  attempts: typeof doc.body.attempts === "number" ? doc.body.attempts : 0,
  retryAt: typeof doc.body.retryAt === "number" ? doc.body.retryAt : 0,
});

export class Outbox {
  private readonly items: Collection<WorkBody>;

  constructor(deps: CollectionDeps) {
    this.items = new Collection<WorkBody>(deps, "clusterWork");
  }

  /**
   * Records that a cluster's assignments must be re-evaluated. Written before the cluster (a crash
   * in between leaves work, never a miss) and again after it: the second write changes the item's
   * etag, so a reconciler that read the cluster before this write cannot retire the item.
   */
  async touch(subscriptionId: string, clusterId: ClusterId | ClusterKey): Promise<void> {
    // the counter replaces the whole body: a touch also clears a failed item's back-off
    await this.items.patch({ key: keyOf(clusterId), partition: partitionOf(subscriptionId), parent: "" }, (current) => ({
      touches: (typeof current?.record.touches === "number" ? current.record.touches : 0) + 1,
    }));
  }

  /** a work item that failed waits until `retryAt`; a touch meanwhile (a new change) wins and resets it */
  async defer(doc: StoredDocument, attempts: number, retryAt: number): Promise<void> {
    await this.items.replaceIfUnchanged(doc, { ...doc.body, attempts, retryAt });
  }

  /** the outbox a page at a time, in key order (a cursor, so an item that keeps failing holds up nothing) */
  async page(limit: number, continuation?: string): Promise<{ items: ClusterWork[]; continuation?: string }> {
    const page = await this.items.pageOf({ scan: true }, limit, continuation);
    const items = page.items.map(workOf);
    return page.continuation === undefined ? { items } : { items, continuation: page.continuation };
  }

  /** every page of the outbox, in key order, until the last (a cursor: an item that keeps failing holds up nothing) */
  async *pages(pageSize: number): AsyncGenerator<ClusterWork[]> {
    for await (const docs of this.items.pages({ scan: true }, pageSize)) yield docs.map(workOf);
  }

  /** retires a work item unless it was touched since it was read */
  retire(doc: StoredDocument): Promise<boolean> {
    return this.items.deleteIfUnchanged(doc);
  }
}
