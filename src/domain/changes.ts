/**
 * In-process change notifications: the domain announces what it changed, the agent-facing caches
 * listen. Exact within one process; across replicas the caches fall back to a bounded-staleness
 * check of a version marker in the store (see desired-state.ts).
 */
import { EventEmitter } from "node:events";

export interface ClusterChange {
  /** lower-cased cluster id, or "*" for every cluster (too many changes to name them) */
  clusterKey: string;
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
