/**
 * Writes of other replicas, found by one cross-partition query on `updatedAt` (no change feed needed):
 * which subscriptions the reconciler must summarise again, which markers the change watcher replays.
 */
import { SYSTEM_PARTITION, type ChangedDocument, type Store } from "../store/port.js";

export class Changes {
  constructor(private readonly store: Store) {}

  /**
   * The partitions (subscriptions) where a configuration, an assignment or a desired-state marker was
   * written since `since`; `truncated` when there were more than `limit` writes (treat all as changed).
   */
  async subscriptionsChangedSince(since: number, limit: number): Promise<{ partitions: Set<string>; truncated: boolean }> {
    const changes = await this.store.changedSince({ kinds: ["configuration", "assignment", "system"], since, limit });
    const partitions = new Set(changes.items.map((c) => c.partition).filter((p) => p !== SYSTEM_PARTITION));
    return { partitions, truncated: changes.truncated };
  }

  /**
   * Service records (markers among them) written since `since`, envelopes only; heartbeats rewrite
   * cluster records and are not looked at. `truncated` when there were more than `limit`.
   */
  systemRecordsChangedSince(since: number, limit: number): Promise<{ items: ChangedDocument[]; truncated: boolean }> {
    return this.store.changedSince({ kinds: ["system"], since, limit });
  }
}
