/**
 * Step 1 of a pass: the outbox of changed clusters (the cluster PUT and PATCH write it). Every
 * assignment of the subscription is applied to each item's cluster, so a cluster registered later,
 * or whose tags changed, gets (or loses) its configurations. An item is retired only when all went
 * well; one that failed backs off (retryDelayMs).
 */
import type { ApplyOutcome } from "../../domain/assignment-apply.js";
import { lostRace } from "../../persistence/collection.js";
import { byPartition, MAX_UNIT_WRITES, type ClusterWork } from "../../persistence/index.js";
import { applyOne, readAssignments, stagedViews, type AssignmentsRead, type PassContext, type ReconcileReport } from "./context.js";
import type { ViewFor } from "../../domain/assignment-apply.js";

const MAX_RETRY_DELAY_MS = 600_000;

/** after `attempts` failures an item waits 2, 4, 8 … seconds, at most 10 minutes */
export function retryDelayMs(attempts: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(attempts, 20));
}

/** a failing item is logged at 1, 2, 4, 8 … attempts, not at every one */
export function logsRetry(attempts: number): boolean {
  return (attempts & (attempts - 1)) === 0;
}

/** false when the lease was lost */
export async function drainOutbox(ctx: PassContext, report: ReconcileReport): Promise<boolean> {
  const bySubscription = new Map<string, AssignmentsRead & { views: Map<string, ViewFor> }>();
  // paged, not always the first page: an item that keeps failing cannot hold up the ones behind it
  for await (const items of ctx.repo.outbox.pages(ctx.batchSize)) {
    const done: ClusterWork[] = [];
    for (const item of items) {
      if (item.retryAt > ctx.clock.now()) continue; // backing off after failures
      let read = bySubscription.get(item.partition);
      if (!read) {
        const assignmentsRead = await readAssignments(ctx, item.partition);
        // a cluster joining a staged rollout gets what its stage has now
        read = { ...assignmentsRead, views: await stagedViews(ctx, item.partition, assignmentsRead.items) };
        bySubscription.set(item.partition, read);
      }
      const assignments = read.items;
      const before = await ctx.repo.clusters.etagOf(item.clusterKey, item.partition);
      const outcomes: Array<ApplyOutcome | "failed"> = [];
      const views = read.views;
      for (const a of assignments) outcomes.push(await applyOne(ctx, a, item.clusterKey, report, async () => assignments, views.get(a.record.id)));
      if (outcomes.includes("stale")) bySubscription.delete(item.partition); // an assignment changed: read them again
      const after = await ctx.repo.clusters.etagOf(item.clusterKey, item.partition);
      if (outcomes.includes("failed") || !read.complete) await backOff(ctx, item);
      // retired only when every assignment was applied with its current version, the cluster did not change
      // meanwhile, and the item was not touched since it was read (retirement is by etag)
      else if (!outcomes.includes("stale") && before === after) done.push(item);
      report.clustersFromOutbox++;
      ctx.markChanged(item.partition);
      await ctx.slicer.maybeYield();
    }
    await retireAll(ctx, done);
    if (!(await ctx.lease.keep())) return false;
  }
  return true;
}

/**
 * Retires a page's finished items by partition, up to a commit's worth at once (a burst of
 * registrations is drained with a commit per hundred clusters, not one per cluster). Each retirement is
 * by etag: an item touched since it was read makes its group's commit fail, and the group is then retired
 * one item at a time, leaving the touched one for the next pass.
 */
async function retireAll(ctx: PassContext, items: ClusterWork[]): Promise<void> {
  for (const group of byPartition(items)) {
    for (let i = 0; i < group.length; i += MAX_UNIT_WRITES) {
      const chunk = group.slice(i, i + MAX_UNIT_WRITES);
      try {
        await ctx.repo.atomically(async () => {
          for (const item of chunk) await ctx.repo.outbox.retire(item.doc);
        });
      } catch (err) {
        if (!lostRace(err)) throw err;
        for (const item of chunk) await ctx.repo.outbox.retire(item.doc);
      }
      await ctx.slicer.maybeYield();
    }
  }
}

async function backOff(ctx: PassContext, item: ClusterWork): Promise<void> {
  const attempts = item.attempts + 1;
  const delay = retryDelayMs(attempts);
  if (logsRetry(attempts)) ctx.log("cluster left in the assignment outbox after a failure", { clusterId: item.clusterKey, attempts, retryInMs: delay });
  await ctx.repo.outbox.defer(item.doc, attempts, ctx.clock.now() + delay);
}
