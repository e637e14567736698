/**
 * The loop every background job runs on: a pass every `intervalMs` once started, and whenever the
 * process is told there is work (wake); one pass in flight at a time; stop() waits for it.
 * - A wake (or a tick) during a pass runs one more pass after it: nothing is missed, nothing piles up.
 * - Before start() nothing runs by itself (a wake is ignored): tests drive runOnce().
 * - With a lease, a pass runs only while this replica holds it (Lease.keep: renewed once a third of
 *   it has passed); otherwise the pass answers `skipped()` without running.
 */
import type { Lease } from "./lease.js";

/** how the job is ticked: setInterval by default (unref'd: a job never keeps the process alive) */
export interface JobTimers {
  /** calls `tick` every `ms` until the returned function is called */
  every(ms: number, tick: () => void): () => void;
}

export const realTimers: JobTimers = {
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

export interface PeriodicJobOptions<R> {
  intervalMs: number;
  /** one pass of the job */
  run: () => Promise<R>;
  /** a pass that failed when nobody awaited it (a tick or a wake) */
  onError: (err: unknown) => void;
  /** start() runs a pass at once instead of waiting for the first interval */
  runAtStart: boolean;
  /** one replica at a time: a pass runs only while this lease is held */
  lease?: { lease: Pick<Lease, "keep">; skipped: () => R };
  timers?: JobTimers;
}

export class PeriodicJob<R> {
  private cancel?: () => void;
  private running?: Promise<R>;
  private again = false;

  constructor(private readonly options: PeriodicJobOptions<R>) {}

  get started(): boolean {
    return this.cancel !== undefined;
  }

  start(): void {
    if (this.started) return;
    this.cancel = (this.options.timers ?? realTimers).every(this.options.intervalMs, () => this.wake());
    if (this.options.runAtStart) this.wake();
  }

  /** no more passes; resolves when the one in flight (if any) has ended */
  async stop(): Promise<void> {
    this.cancel?.();
    this.cancel = undefined;
    this.again = false;
    await this.running?.catch(() => undefined);
  }

  /** run soon, once started; during a pass, one more pass after it */
  wake(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.runOnce().catch((err: unknown) => this.options.onError(err));
  }

  /** one pass; overlapping calls share the pass in progress */
  runOnce(): Promise<R> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
    return this.running;
  }

  private async pass(): Promise<R> {
    const gate = this.options.lease;
    if (gate && !(await gate.lease.keep())) return gate.skipped();
    return this.options.run();
  }
}
