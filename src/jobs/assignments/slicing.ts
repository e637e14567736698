/**
 * The reconciler works in slices of SLICE_MS, then lets waiting requests run: the embedded store
 * answers synchronously (an fsync blocks the event loop), so without yields a rollout would stall the
 * API, and yielding after every cluster would let a busy API starve the rollout (measured: 40
 * clusters/s under 64 polling connections).
 *
 * A yield is a fair share, not a single turn: while the turns others take are long (requests are
 * waiting), the slicer keeps yielding until they have had up to YIELD_SHARE slices' worth of time, so
 * a busy API keeps about two thirds of the event loop and the job at least one third; on a quiet
 * service the first turn comes back at once and the job goes on at full speed. Turns are measured in
 * this process's CPU time: on a shared machine, time the process spent descheduled is nobody's turn.
 */
export const SLICE_MS = 10;
/** others get up to this many slices' worth of the event loop per slice of the job */
export const YIELD_SHARE = 2;
/** a turn that used less CPU than this: nothing was waiting */
export const BUSY_TURN_MS = 1;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** this process's CPU time in milliseconds */
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export class Slicer {
  private since: number;

  /**
   * `now`: a monotonic clock in milliseconds (performance.now by default); `turn`: one turn of the event
   * loop; `cpu`: the process's CPU time in milliseconds (what others' turns are measured in)
   */
  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly turn: () => Promise<void> = nextTurn,
    private readonly cpu: () => number = cpuMs,
  ) {
    this.since = now();
  }

  /** whether the current slice is used up (then maybeYield yields) */
  due(): boolean {
    return this.now() - this.since >= SLICE_MS;
  }

  async maybeYield(): Promise<void> {
    if (!this.due()) return;
    const started = this.cpu();
    for (;;) {
      const before = this.cpu();
      await this.turn();
      const after = this.cpu();
      if (after - before < BUSY_TURN_MS || after - started >= YIELD_SHARE * SLICE_MS) break;
    }
    this.since = this.now();
  }
}
