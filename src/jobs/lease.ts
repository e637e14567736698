/**
 * A lease in the store, so that one replica at a time runs a background job. Taken with create,
 * renewed or taken over (when expired) with an etag-conditional replace: two replicas racing for it
 * cannot both win. The job's steps are idempotent anyway; the lease only keeps them from doing the
 * same work twice.
 */
import type { Leases } from "../persistence/leases.js";
import type { Clock } from "../ports/clock.js";

export class Lease {
  constructor(
    private readonly leases: Leases,
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

  private tryAcquire(): Promise<boolean> {
    const now = this.clock.now();
    return this.leases.take(this.name, this.holder, now, now + this.durationMs);
  }

  async release(): Promise<void> {
    this.heldSince = Number.NEGATIVE_INFINITY;
    await this.leases.release(this.name, this.holder);
  }
}
