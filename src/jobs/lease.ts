/**
 * A lease in the store, so that one replica at a time runs a background job. Taken with create,
 * renewed or taken over (when expired) with an etag-conditional replace: two replicas racing for it
 * cannot both win. The job's steps are idempotent anyway; the lease only keeps them from doing the
 * same work twice.
 */
import type { Clock } from "../ports/clock.js";
import { StoreConflictError, StorePreconditionFailedError, SYSTEM_PARTITION, systemKey, type NewDocument, type Store } from "../store/port.js";

const PARTITION = SYSTEM_PARTITION;

export class Lease {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly name: string,
    readonly holder: string,
    private readonly durationMs: number,
  ) {}

  /** when this holder last took or renewed the lease (no other holder can have it for durationMs after) */
  private heldSince = Number.NEGATIVE_INFINITY;

  /**
   * True while this holder has the lease, renewing it only once a third of it has passed: a job that
   * checks before every batch costs one store write per third of a lease, not one per check.
   */
  async keep(): Promise<boolean> {
    if (this.clock.now() - this.heldSince < this.durationMs / 3) return true;
    return this.acquire();
  }

  /** true when this holder has the lease for the next durationMs */
  async acquire(): Promise<boolean> {
    const asked = this.clock.now();
    const held = await this.tryAcquire();
    this.heldSince = held ? asked : Number.NEGATIVE_INFINITY;
    return held;
  }

  private async tryAcquire(): Promise<boolean> {
    const key = systemKey("lease", this.name);
    const now = this.clock.now();
    const doc: NewDocument = { kind: "system", key, partition: PARTITION, parent: "leases", schemaVersion: 1, body: { holder: this.holder, until: now + this.durationMs } };
    try {
      const current = await this.store.get("system", key, PARTITION);
      if (!current) {
        await this.store.create(doc);
        return true;
      }
      const body = current.body as { holder?: string; until?: number };
      if (body.holder !== this.holder && (body.until ?? 0) > now) return false;
      await this.store.replace(doc, current.etag);
      return true;
    } catch (err) {
      if (err instanceof StoreConflictError || err instanceof StorePreconditionFailedError) return false;
      throw err;
    }
  }

  async release(): Promise<void> {
    this.heldSince = Number.NEGATIVE_INFINITY;
    const key = systemKey("lease", this.name);
    const current = await this.store.get("system", key, PARTITION);
    if (current && (current.body as { holder?: string }).holder === this.holder) {
      await this.store.delete("system", key, PARTITION, current.etag).catch(() => false);
    }
  }
}
