/**
 * The reconciler works in slices of SLICE_MS, then lets waiting requests run: the embedded store
 * answers synchronously (an fsync blocks the event loop), so without yields a rollout would stall the
 * API, and yielding after every cluster would let a busy API starve the rollout (measured: 40
 * clusters/s under 64 polling connections).
 */
export const SLICE_MS = 10;

export class Slicer {
  private since: number;

  /** `now`: a monotonic clock in milliseconds (performance.now by default) */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.since = now();
  }

  /** whether the current slice is used up (then maybeYield yields) */
  due(): boolean {
    return this.now() - this.since >= SLICE_MS;
  }

  async maybeYield(): Promise<void> {
    if (!this.due()) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = this.now();
  }
}
