/**
 * Step 3 of a pass: compliance summaries of the subscriptions where something changed (a
 * configuration, an assignment, a desired-state marker, or this process's own rollout and outbox
 * work), at most every `complianceIntervalMs` and never more than a tenth of the time.
 */
import { evaluateCompliance } from "../../domain/assignments.js";
import { subscriptionPartition } from "../../persistence/index.js";
import type { AssignmentRecord, ComplianceSummary } from "../../domain/types.js";
import { allAssignments, lostRace, type PassContext, type ReconcileReport } from "./context.js";

/** a writer's clock may lag this one's: each look at the changes starts this much before the last */
const CHANGES_OVERLAP_MS = 2000;
/** more changes than this since the last look: every subscription counts as changed */
const CHANGES_LIMIT = 1000;

/**
 * When the next refresh is due: `intervalMs` after the last one began, and never sooner than 9×`took`
 * after it ended (a walk that took w ms is followed by at least 9w ms without one, however large the fleet).
 */
export function nextRefreshAt(endedAt: number, took: number, intervalMs: number): number {
  return endedAt + Math.max(intervalMs - took, 9 * took);
}

export function emptySummary(evaluatedAt: number): ComplianceSummary {
  return { totalClusters: 0, compliant: 0, pending: 0, nonCompliant: 0, failed: 0, evaluatedAt: new Date(evaluatedAt).toISOString() };
}

/** counts one cluster's state into the summary (an unknown state counts as failed) */
export function tally(summary: ComplianceSummary, complianceState: string): void {
  summary.totalClusters++;
  if (complianceState === "Compliant") summary.compliant++;
  else if (complianceState === "Pending") summary.pending++;
  else if (complianceState === "NonCompliant") summary.nonCompliant++;
  else summary.failed++;
}

export class ComplianceSummaries {
  /** subscriptions (partitions) whose summaries may be out of date through this process's own work */
  private readonly dirty = new Set<string>();
  private nextAt = Number.NEGATIVE_INFINITY;
  private changesSeenUntil = 0;

  constructor(private readonly intervalMs: number) {}

  markChanged(partition: string): void {
    this.dirty.add(partition);
  }

  /** subscriptions where a configuration, an assignment or a desired-state marker changed */
  private async changedSubscriptions(ctx: PassContext): Promise<Set<string> | "all"> {
    const since = this.changesSeenUntil;
    const now = ctx.clock.now();
    if (since === 0) {
      this.changesSeenUntil = now;
      return "all";
    }
    // moved on only once the look succeeded: a failed look is repeated, not skipped
    const changes = await ctx.repo.changes.subscriptionsChangedSince(since - CHANGES_OVERLAP_MS, CHANGES_LIMIT);
    this.changesSeenUntil = now;
    return changes.truncated ? "all" : changes.partitions;
  }

  /** the summaries of the changed subscriptions, when due */
  async refresh(ctx: PassContext, report: ReconcileReport): Promise<void> {
    const started = ctx.clock.now();
    if (started < this.nextAt) return;
    const changed = await this.changedSubscriptions(ctx);
    for (const a of await allAssignments(ctx)) {
      const partition = subscriptionPartition(a.record.subscriptionId);
      if (a.record.deletion || (changed !== "all" && !changed.has(partition) && !this.dirty.has(partition))) continue;
      try {
        if (await writeSummary(ctx, a.record)) report.summariesWritten++;
      } catch (err) {
        report.failures++;
        ctx.log("could not compute a compliance summary", { resourceId: a.record.id, err });
      }
    }
    this.dirty.clear();
    const ended = ctx.clock.now();
    this.nextAt = nextRefreshAt(ended, ended - started, this.intervalMs);
  }
}

/** walks the scope, counts matching clusters by state, keeps the counts in the status */
export async function writeSummary(ctx: PassContext, a: AssignmentRecord): Promise<boolean> {
  const summary = emptySummary(ctx.clock.now());
  for await (const results of evaluateCompliance(ctx.repo, a, ctx.batchSize)) {
    for (const r of results) tally(summary, r.complianceState);
    await ctx.slicer.maybeYield();
  }
  const status = await ctx.repo.assignments.getStatus(a.subscriptionId, a.id);
  if (!status) return false; // the rollout writes the first status; the next refresh fills it in
  try {
    await ctx.repo.assignments.writeStatus(a.subscriptionId, a.id, { ...status.record, complianceSummary: summary }, status.etag);
    return true;
  } catch (err) {
    if (lostRace(err)) return false;
    throw err;
  }
}
