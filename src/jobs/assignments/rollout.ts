/**
 * Step 2 of a pass: rollouts. An assignment whose generation differs from its status is applied to
 * the clusters of its scope in key order, `batchSize` clusters at a time; the status records where
 * it got to (the store's cursor), so a restarted rollout resumes there; a deleting assignment goes
 * once its rollout has removed everything it managed.
 */
import { subscriptionPartition, type Versioned } from "../../persistence/index.js";
import type { AssignmentRecord, AssignmentStatus } from "../../domain/types.js";
import { storedClusterKey } from "../../domain/assignment-apply.js";
import { applyMany, lazyAssignments, lostRace, type PassContext, type ReconcileReport } from "./context.js";
import { desiredView, isStaged } from "../../domain/rollout-policy.js";
import { actionsSeen, actOnRequest, cachedStages, freshStagedStatus, judgeOpenStage, walkEnded } from "./stages.js";

/** how long the Location of a finished deletion answers 200 */
const FINISHED_OPERATION_LIFETIME_MS = 86_400_000;

/** the first status of a generation: nothing processed yet; a compliance summary already shown stays */
export function freshStatus(a: Pick<AssignmentRecord, "generation">, clustersTotal: number, now: number, previous?: AssignmentStatus): AssignmentStatus {
  return {
    generation: a.generation,
    state: "InProgress",
    clustersProcessed: 0,
    clustersFailed: 0,
    clustersTotal,
    startedAt: new Date(now).toISOString(),
    ...(previous?.complianceSummary ? { complianceSummary: previous.complianceSummary } : {}),
  };
}

/**
 * The status after one batch of `applied` clusters (`failed` of them failed); `continuation` is the
 * store's cursor after the batch, absent when the scope is exhausted (the rollout completed).
 */
export function advanceStatus(status: AssignmentStatus, applied: number, failed: number, continuation: string | undefined, now: number): AssignmentStatus {
  const processed = status.clustersProcessed + applied;
  const done = continuation === undefined;
  const next: AssignmentStatus = {
    ...status,
    clustersProcessed: processed,
    clustersFailed: (status.clustersFailed ?? 0) + failed,
    // clusters registered during the rollout count too (the outbox handled them as well)
    clustersTotal: Math.max(status.clustersTotal, processed),
    state: done ? "Completed" : "InProgress",
  };
  if (done) {
    delete next.cursor;
    next.completedAt = new Date(now).toISOString();
  } else next.cursor = continuation;
  return next;
}

async function countClusters(ctx: PassContext, a: AssignmentRecord): Promise<number> {
  let total = 0;
  for await (const docs of ctx.repo.clusters.pages(a.subscriptionId, a.resourceGroup, 1000)) total += docs.length;
  return total;
}

/** the status of the assignment's current generation: a new generation starts a new rollout */
async function currentStatus(ctx: PassContext, a: AssignmentRecord): Promise<Versioned<AssignmentStatus>> {
  const status = await ctx.repo.assignments.getStatus(a.subscriptionId, a.id);
  if (status && status.record.generation === a.generation) return status;
  let fresh: AssignmentStatus;
  if (isStaged(a)) fresh = await freshStagedStatus(ctx, a, freshStatus(a, 0, ctx.clock.now(), status?.record));
  else fresh = freshStatus(a, await countClusters(ctx, a), ctx.clock.now(), status?.record);
  // requests made before this generation are not replayed on it
  if (a.actions !== undefined) fresh.actionSeen = actionsSeen(a);
  if (a.rollbackOf !== undefined) fresh.rolledBackFrom = a.rollbackOf;
  return ctx.repo.assignments.writeStatus(a.subscriptionId, a.id, fresh, status?.etag);
}

type Verdict = "more" | "done";

/**
 * A store step of a batch: a lost race means another replica moved the status or the assignment
 * first (the next round reads the new state); another failure is logged and ends this assignment's
 * turn for the pass.
 */
async function guarded<T>(ctx: PassContext, a: AssignmentRecord, report: ReconcileReport, step: () => Promise<T>): Promise<T | Verdict> {
  try {
    return await step();
  } catch (err) {
    if (lostRace(err)) return "more";
    report.failures++;
    ctx.log("assignment rollout batch failed", { resourceId: a.id, err });
    return "done";
  }
}

/** one batch of one assignment's rollout: "more" when the next round has work for it */
export async function rolloutBatch(ctx: PassContext, listed: Versioned<AssignmentRecord>, report: ReconcileReport): Promise<Verdict> {
  // fresh: a PUT since the scan restarts the rollout with the new generation
  const found = await ctx.repo.assignments.get(listed.record.subscriptionId, listed.record.id);
  if (!found) return "done";
  const a = found.record;
  const begun = await guarded(ctx, a, report, async () => {
    const status = await currentStatus(ctx, a);
    // a halt or resume request, acted on once; the next round reads the new state
    if (a.actions !== undefined) {
      const acted = actOnRequest(a, status.record, ctx.clock.now());
      if (acted) {
        await ctx.repo.assignments.writeStatus(a.subscriptionId, a.id, acted, status.etag);
        ctx.markChanged(subscriptionPartition(a.subscriptionId));
        return "more";
      }
    }
    if (status.record.state === "Halted") return "done";
    if (status.record.state === "Completed") return (await finishDeletion(ctx, found, report)) ? "more" : "done";
    // a staged generation's open stage, written: its gate is judged
    if (isStaged(a) && status.record.stages?.[status.record.currentStage ?? 0]?.state !== "Applying") return judgeOpenStage(ctx, found, status, report);
    const page = await ctx.repo.clusters.pageDocuments(a.subscriptionId, a.resourceGroup, ctx.batchSize, status.record.cursor);
    return { status, page };
  });
  if (typeof begun === "string") return begun;
  const { status, page } = begun;
  let failed = 0;
  const siblings = lazyAssignments(ctx, a.subscriptionId);
  // staged: each cluster gets what its stage has now (the open stage's clusters and those before it the
  // new generation, the others the previous one); writes happen only where that differs
  const viewFor = isStaged(a) ? (c: Parameters<typeof desiredView>[2]) => desiredView(a, status.record, c) : undefined;
  // `clustersPerCommit` at a time: read in bulk, written in one commit (applyMany); the observer hears of
  // each cluster once its group is committed, before the next group is read
  // staged, after the first stage's walk (which visits every cluster): a cluster whose record is unchanged
  // since this replica cached its stage, and of another stage, has nothing to do in this walk
  const open = status.record.currentStage ?? 0;
  const cached = viewFor && open > 0 ? cachedStages(ctx, a) : undefined;
  const items = cached
    ? page.items.filter((doc) => {
        const known = cached.get(doc.key);
        return known === undefined || known.etag !== doc.etag || known.stage === open;
      })
    : page.items;
  for (let start = 0; start < items.length; start += ctx.clustersPerCommit) {
    const group = items.slice(start, start + ctx.clustersPerCommit);
    const outcomes = await applyMany(ctx, found, group.map((doc) => doc.key), report, siblings, viewFor);
    for (const [i, outcome] of outcomes.entries()) {
      const doc = group[i] as (typeof group)[number];
      // the outbox tries a failed cluster again later, with back-off
      if (outcome === "failed") await ctx.repo.outbox.touch(a.subscriptionId, storedClusterKey(doc.key)).catch(() => undefined);
      // the assignment changed under this batch: nothing more is written with the old one, the next round re-reads it
      if (outcome === "stale") return "more";
      if (outcome === "failed") failed++;
      // outside guarded(): what the observer throws ends the pass, as a crash here would
      await ctx.onApplied?.(doc.key);
    }
    await ctx.slicer.maybeYield();
  }
  return guarded(ctx, a, report, async (): Promise<Verdict> => {
    let next = advanceStatus(status.record, page.items.length, failed, page.continuation, ctx.clock.now());
    // staged: the end of the scope ends the open stage's writing, not the rollout
    if (isStaged(a) && next.state === "Completed") next = walkEnded(next);
    await ctx.repo.assignments.writeStatus(a.subscriptionId, a.id, next, status.etag);
    ctx.markChanged(subscriptionPartition(a.subscriptionId));
    if (next.state === "Completed") {
      report.rolloutsCompleted++;
      ctx.log("assignment rollout completed", { resourceId: a.id, generation: a.generation, clusters: next.clustersProcessed, failed: next.clustersFailed });
    }
    return "more";
  });
}

/** a deleting assignment whose rollout removed everything it managed goes, with its status */
async function finishDeletion(ctx: PassContext, found: Versioned<AssignmentRecord>, report: ReconcileReport): Promise<boolean> {
  const deletion = found.record.deletion;
  if (!deletion) return false;
  // the Location a client polls answers 200 for a day after, then 404 like any unknown operation
  await ctx.repo.operations.recordFinished(found.record.subscriptionId, deletion.operationId, found.record.id, ctx.clock.now() + FINISHED_OPERATION_LIFETIME_MS);
  if (await ctx.repo.assignments.delete(found.record, found.etag)) {
    report.assignmentsDeleted++;
    ctx.log("configuration assignment deleted", { resourceId: found.record.id });
  }
  return true;
}
