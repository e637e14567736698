/**
 * The loop every job runs on (src/jobs/periodic-job.ts), with hand-driven timers: ticks at the
 * interval, wakes coalesced into one more pass, one pass in flight, stop() waiting for it, the lease gate.
 */
import t from "tap";
import { PeriodicJob, type JobTimers } from "../../src/jobs/periodic-job.js";

/** timers a test fires by hand */
class HandTimers implements JobTimers {
  intervals: number[] = [];
  private ticks = new Set<() => void>();
  every(ms: number, tick: () => void): () => void {
    this.intervals.push(ms);
    this.ticks.add(tick);
    return () => this.ticks.delete(tick);
  }
  fire(): void {
    for (const tick of this.ticks) tick();
  }
  get armed(): number {
    return this.ticks.size;
  }
}

/** a pass that runs until the test releases it */
class Gated {
  started = 0;
  finished = 0;
  private releases: Array<() => void> = [];
  run = async (): Promise<number> => {
    const n = ++this.started;
    await new Promise<void>((resolve) => this.releases.push(resolve));
    this.finished++;
    return n;
  };
  release(): void {
    this.releases.shift()?.();
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function job(run: () => Promise<number>, extra: { runAtStart?: boolean; keep?: () => Promise<boolean>; errors?: unknown[] } = {}) {
  const timers = new HandTimers();
  const j = new PeriodicJob<number>({
    intervalMs: 250,
    run,
    onError: (err) => extra.errors?.push(err),
    runAtStart: extra.runAtStart ?? false,
    timers,
    ...(extra.keep ? { lease: { lease: { keep: extra.keep }, skipped: () => -1 } } : {}),
  });
  return { j, timers };
}

t.test("before start nothing runs by itself; start arms one timer at the interval", async (t) => {
  const gated = new Gated();
  const { j, timers } = job(gated.run);
  j.wake();
  await flush();
  t.equal(gated.started, 0, "a wake before start is ignored");
  j.start();
  j.start();
  t.same(timers.intervals, [250], "one timer, at intervalMs, however often start() is called");
  t.equal(gated.started, 0, "runAtStart false: the first pass waits for the first tick");
  timers.fire();
  await flush();
  t.equal(gated.started, 1, "a tick runs a pass");
  gated.release();
  await j.stop();
  t.equal(timers.armed, 0, "stop disarms the timer");
});

t.test("runAtStart runs a pass at once", async (t) => {
  const gated = new Gated();
  const { j } = job(gated.run, { runAtStart: true });
  j.start();
  await flush();
  t.equal(gated.started, 1);
  gated.release();
  await j.stop();
});

t.test("one pass in flight: overlapping runOnce calls share it", async (t) => {
  const gated = new Gated();
  const { j } = job(gated.run);
  const a = j.runOnce();
  const b = j.runOnce();
  t.equal(a, b, "the same promise");
  await flush();
  t.equal(gated.started, 1, "one pass started");
  gated.release();
  t.equal(await a, 1);
  const c = j.runOnce();
  await flush();
  t.equal(gated.started, 2, "after it ended, the next call starts a new pass");
  gated.release();
  t.equal(await c, 2);
});

t.test("wakes and ticks during a pass coalesce into exactly one more pass", async (t) => {
  const gated = new Gated();
  const { j, timers } = job(gated.run);
  j.start();
  j.wake();
  await flush();
  t.equal(gated.started, 1);
  j.wake();
  j.wake();
  timers.fire();
  await flush();
  t.equal(gated.started, 1, "nothing piles up while the pass runs");
  gated.release();
  await flush();
  await flush();
  t.equal(gated.started, 2, "one more pass after it: nothing is missed");
  gated.release();
  await flush();
  await flush();
  t.equal(gated.started, 2, "and no third");
  await j.stop();
});

t.test("stop waits for the pass in flight and cancels a pending wake", async (t) => {
  const gated = new Gated();
  const { j } = job(gated.run);
  j.start();
  j.wake();
  await flush();
  j.wake(); // would run one more pass after this one
  let stopped = false;
  const stopping = j.stop().then(() => (stopped = true));
  await flush();
  t.equal(stopped, false, "stop() has not resolved while the pass runs");
  gated.release();
  await stopping;
  t.equal(gated.finished, 1, "the pass ended before stop() resolved");
  await flush();
  t.equal(gated.started, 1, "the wake that came during the pass does not run after stop");
});

t.test("stop resolves even when the pass in flight fails; an unawaited failure goes to onError", async (t) => {
  const errors: unknown[] = [];
  const { j } = job(async () => {
    throw new Error("store down");
  }, { errors });
  j.start();
  j.wake();
  await j.stop();
  await flush();
  t.equal(errors.length, 1);
  t.match(errors[0], { message: "store down" });
  await t.rejects(j.runOnce(), /store down/, "an awaited pass rejects to its caller");
});

t.test("with a lease, a pass runs only while it is held", async (t) => {
  let held = false;
  let runs = 0;
  const { j } = job(async () => ++runs, { keep: async () => held });
  t.equal(await j.runOnce(), -1, "not held: the job answers skipped() without running");
  t.equal(runs, 0);
  held = true;
  t.equal(await j.runOnce(), 1, "held: the pass runs");
});
