/**
 * The arithmetic of the assignment reconciler (src/jobs/assignments/), on a manual clock: a rollout's
 * status across batches (ordering by cursor, batching, resuming, totals), the outbox's back-off, the
 * compliance summary's tally and refresh spacing, the event-loop slices.
 */
import t from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { advanceStatus, freshStatus } from "../../src/jobs/assignments/rollout.js";
import { logsRetry, retryDelayMs } from "../../src/jobs/assignments/outbox.js";
import { emptySummary, nextRefreshAt, tally } from "../../src/jobs/assignments/compliance.js";
import { Slicer, SLICE_MS, YIELD_SHARE } from "../../src/jobs/assignments/slicing.js";
import type { AssignmentStatus } from "../../src/domain/types.js";

/** clusters in key order, read `limit` at a time from a cursor (the store's list, in miniature) */
function pager(keys: string[]) {
  return (limit: number, cursor?: string): { items: string[]; continuation?: string } => {
    const from = cursor === undefined ? 0 : Number(cursor);
    const items = keys.slice(from, from + limit);
    const next = from + limit;
    return next < keys.length ? { items, continuation: String(next) } : { items };
  };
}

/** runs batches until completed; `between` may register clusters; returns the statuses after each batch */
function rollOut(keys: string[], batch: number, clock: ManualClock, start: AssignmentStatus, between: (n: number) => void = () => undefined) {
  const page = pager(keys);
  const seen: string[] = [];
  const statuses: AssignmentStatus[] = [];
  let status = start;
  for (let n = 0; status.state !== "Completed"; n++) {
    const p = page(batch, status.cursor);
    seen.push(...p.items);
    clock.advance(1000);
    status = advanceStatus(status, p.items.length, 0, p.continuation, clock.now());
    statuses.push(status);
    between(n);
  }
  return { seen, statuses };
}

const keysOf = (n: number) => Array.from({ length: n }, (_, i) => `c${String(i).padStart(3, "0")}`);

t.test("a rollout visits every cluster once, in key order, batchSize at a time", async (t) => {
  const clock = new ManualClock();
  const keys = keysOf(23);
  const { seen, statuses } = rollOut(keys, 10, clock, freshStatus({ generation: 3 }, 23, clock.now()));
  t.same(seen, keys, "every cluster, in order, none twice");
  t.same(statuses.map((s) => s.clustersProcessed), [10, 20, 23], "10, 10, then the 3 left");
  t.same(statuses.map((s) => s.cursor), ["10", "20", undefined], "the cursor after each batch; none once completed");
  t.same(statuses.map((s) => s.state), ["InProgress", "InProgress", "Completed"]);
  const last = statuses[2];
  t.equal(last?.completedAt, new Date(clock.now()).toISOString(), "completed at the clock's time");
  t.equal(last?.generation, 3);
  t.equal(last?.startedAt, new Date(Date.parse("2026-01-01T00:00:00Z")).toISOString(), "started when the first status was written");
});

t.test("an interrupted rollout resumes at its cursor: nothing before it is visited again", async (t) => {
  const clock = new ManualClock();
  const keys = keysOf(25);
  const page = pager(keys);
  const first = page(10);
  const recorded = advanceStatus(freshStatus({ generation: 1 }, 25, clock.now()), first.items.length, 0, first.continuation, clock.now());
  // the process dies; the next one reads `recorded` and goes on
  const { seen, statuses } = rollOut(keys, 10, clock, recorded);
  t.same(seen, keys.slice(10), "from the 11th cluster on");
  t.equal(statuses.at(-1)?.clustersProcessed, 25);
});

t.test("an exact multiple of the batch size completes on the last full page", async (t) => {
  const clock = new ManualClock();
  const { statuses } = rollOut(keysOf(20), 10, clock, freshStatus({ generation: 1 }, 20, clock.now()));
  t.same(statuses.map((s) => [s.clustersProcessed, s.state]), [[10, "InProgress"], [20, "Completed"]]);
});

t.test("an empty scope completes in one batch of nothing", async (t) => {
  const clock = new ManualClock();
  const { statuses } = rollOut([], 10, clock, freshStatus({ generation: 1 }, 0, clock.now()));
  t.same(statuses.map((s) => [s.clustersProcessed, s.clustersTotal, s.state]), [[0, 0, "Completed"]]);
});

t.test("clusters registered during a rollout count in its total; failures add up", async (t) => {
  const clock = new ManualClock();
  const keys = keysOf(12);
  const { statuses } = rollOut(keys, 5, clock, freshStatus({ generation: 1 }, 12, clock.now()), (n) => {
    if (n === 0) keys.push("c900", "c901"); // registered after the first batch, past the cursor
  });
  t.same(statuses.map((s) => s.clustersTotal), [12, 12, 14], "the total grows to what was processed");
  const failing = advanceStatus({ ...freshStatus({ generation: 1 }, 4, clock.now()), clustersFailed: 1 }, 3, 2, "3", clock.now());
  t.equal(failing.clustersFailed, 3, "failed clusters accumulate across batches");
  const legacy: AssignmentStatus = { generation: 1, state: "InProgress", clustersProcessed: 0, clustersTotal: 1, startedAt: "x" };
  t.equal(advanceStatus(legacy, 1, 1, undefined, clock.now()).clustersFailed, 1, "a status written before clustersFailed existed counts from 0");
});

t.test("a new generation starts from nothing but keeps the summary users see", async (t) => {
  const clock = new ManualClock();
  const summary = emptySummary(clock.now());
  const old: AssignmentStatus = { generation: 1, state: "Completed", clustersProcessed: 9, clustersTotal: 9, startedAt: "a", completedAt: "b", complianceSummary: summary };
  const fresh = freshStatus({ generation: 2 }, 11, clock.now(), old);
  t.same(fresh, { generation: 2, state: "InProgress", clustersProcessed: 0, clustersFailed: 0, clustersTotal: 11, startedAt: new Date(clock.now()).toISOString(), complianceSummary: summary });
  t.notOk("complianceSummary" in freshStatus({ generation: 1 }, 0, clock.now()), "no summary to keep: none invented");
});

t.test("the outbox backs off 2, 4, 8 … seconds up to 10 minutes, logging at powers of two", async (t) => {
  t.same([1, 2, 3, 4, 9, 10].map(retryDelayMs), [2000, 4000, 8000, 16_000, 512_000, 600_000]);
  t.equal(retryDelayMs(1000), 600_000, "capped, however many attempts (no overflow)");
  t.same([1, 2, 3, 4, 5, 8, 12, 16].map(logsRetry), [true, true, false, true, false, true, false, true]);
  // an item deferred at attempt 3 is due exactly 8 s later on the clock
  const clock = new ManualClock();
  const retryAt = clock.now() + retryDelayMs(3);
  clock.advance(7999);
  t.ok(retryAt > clock.now(), "not due a millisecond before");
  clock.advance(1);
  t.ok(retryAt <= clock.now(), "due at retryAt");
});

t.test("a compliance summary counts each state; anything unknown is failed", async (t) => {
  const clock = new ManualClock();
  const summary = emptySummary(clock.now());
  for (const s of ["Compliant", "Compliant", "Pending", "NonCompliant", "Failed", "Installed"]) tally(summary, s);
  t.same(summary, { totalClusters: 6, compliant: 2, pending: 1, nonCompliant: 1, failed: 2, evaluatedAt: "2026-01-01T00:00:00.000Z" });
});

t.test("summaries are refreshed every interval, and never more than a tenth of the time", async (t) => {
  const clock = new ManualClock();
  // a quick walk (50 ms of a 10 s interval): due 10 s after it began
  const began = clock.now();
  clock.advance(50);
  t.equal(nextRefreshAt(clock.now(), 50, 10_000), began + 10_000);
  // a slow walk (4 s): at least 9 × 4 s after it ended
  clock.advance(4000);
  t.equal(nextRefreshAt(clock.now(), 4000, 10_000), clock.now() + 36_000);
  // the crossover: a walk of a tenth of the interval
  t.equal(nextRefreshAt(1000, 1000, 10_000), 10_000);
});

t.test("the pass yields to the event loop once a slice is used up, then starts a new slice", async (t) => {
  const clock = new ManualClock(0);
  const slicer = new Slicer(() => clock.now());
  clock.advance(SLICE_MS - 1);
  t.notOk(slicer.due(), "within the slice: no yield");
  clock.advance(1);
  t.ok(slicer.due(), "the slice is used up");
  await slicer.maybeYield();
  t.notOk(slicer.due(), "after yielding, a fresh slice");
});

t.test("a yield is a fair share: turns are given while others are busy, up to YIELD_SHARE slices' worth", async (t) => {
  const clock = new ManualClock(0);
  let turns = 0;
  let busyFor = 4; // each turn of the event loop, others work this long
  const slicer = new Slicer(
    () => clock.now(),
    async () => {
      turns++;
      clock.advance(busyFor);
    },
    () => clock.now(), // the CPU time others use in a turn: all of it, in this test
  );
  clock.advance(SLICE_MS);
  await slicer.maybeYield();
  t.equal(turns, Math.ceil((YIELD_SHARE * SLICE_MS) / busyFor), "busy: turns until others had their share");
  t.notOk(slicer.due(), "then a fresh slice");
  turns = 0;
  busyFor = 0;
  clock.advance(SLICE_MS);
  await slicer.maybeYield();
  t.equal(turns, 1, "quiet: one turn, and the job goes on at once");
});
