/**
 * What the steps of one reconciliation pass share: their dependencies, the report they fill in, and
 * the two operations both the outbox and rollouts use (reading a subscription's assignments, applying
 * one assignment to one cluster).
 */
import { applyAssignment, applyAssignmentMany, storedClusterKey, type ApplyDeps, type ApplyOutcome, type ViewFor } from "../../domain/assignment-apply.js";
import type { Persistence, Versioned } from "../../persistence/index.js";
import { desiredView, isStaged, keyOf } from "../../domain/rollout-policy.js";
import type { AssignmentRecord } from "../../domain/types.js";
import type { ClusterKey } from "../../domain/assignment-apply.js";
import type { Clock } from "../../ports/clock.js";
import type { Lease } from "../lease.js";
import type { Slicer } from "./slicing.js";

export type Log = (message: string, fields: Record<string, unknown>) => void;

/** called after each cluster a rollout batch applied (see ReconcilerOptions.onApplied) */
export type AppliedObserver = (clusterKey: string) => void | Promise<void>;

export interface ReconcileReport {
  ran: boolean;
  /** configurations written or removed, by outcome */
  outcomes: Record<ApplyOutcome, number>;
  /** applications that failed (logged; retried by the next rollout or outbox pass) */
  failures: number;
  clustersFromOutbox: number;
  rolloutsCompleted: number;
  assignmentsDeleted: number;
  summariesWritten: number;
}

export function emptyReport(ran: boolean): ReconcileReport {
  return {
    ran,
    outcomes: { created: 0, updated: 0, removed: 0, unchanged: 0, clash: 0, stale: 0, migrated: 0 },
    failures: 0,
    clustersFromOutbox: 0,
    rolloutsCompleted: 0,
    assignmentsDeleted: 0,
    summariesWritten: 0,
  };
}

export interface PassContext {
  repo: Persistence;
  deps: ApplyDeps;
  clock: Clock;
  lease: Lease;
  slicer: Slicer;
  batchSize: number;
  /** clusters of a rollout batch read in bulk and written in one commit */
  clustersPerCommit: number;
  log: Log;
  /** a subscription (its partition) whose compliance summaries may be out of date */
  markChanged: (partition: string) => void;
  onApplied?: AppliedObserver;
  /** staged rollouts: how often a waiting stage's gate is judged (a walk of the scope), and when each is next due */
  gateIntervalMs: number;
  gateDue: Map<string, number>;
  /**
   * Staged rollouts: each cluster's stage as this replica last computed it, per assignment (for its
   * latest staged generation only), with the etag of the cluster record it was computed from: a walk
   * skips a cluster whose record is unchanged and whose stage is not the one it is about (a changed
   * or unknown record is decoded and judged as usual). Lost with the process: everything is then decoded.
   */
  stageCache: Map<string, { generation: number; stages: Map<string, { etag: string; stage: number }> }>;
}

/** another replica moved the record first: the next round reads the new state */
export { lostRace } from "../../persistence/collection.js";

export interface AssignmentsRead {
  items: Versioned<AssignmentRecord>[];
  /** false when an unreadable one was left out */
  complete: boolean;
}

/** every assignment, or those of one subscription; an unreadable one is logged and left out, not fatal */
export async function readAssignments(ctx: PassContext, subscriptionId?: string): Promise<AssignmentsRead> {
  const items: Versioned<AssignmentRecord>[] = [];
  let complete = true;
  for await (const docs of ctx.repo.assignments.pages(subscriptionId)) {
    for (const doc of docs) {
      try {
        items.push(await ctx.repo.assignments.decode(doc));
      } catch (err) {
        complete = false;
        ctx.log("could not read a configuration assignment", { resourceId: doc.key, err });
      }
    }
  }
  return { items, complete };
}

export async function allAssignments(ctx: PassContext, subscriptionId?: string): Promise<Versioned<AssignmentRecord>[]> {
  return (await readAssignments(ctx, subscriptionId)).items;
}

/** the subscription's assignments, read once per batch and only if asked */
export function lazyAssignments(ctx: PassContext, subscriptionId: string): () => Promise<Versioned<AssignmentRecord>[]> {
  let loaded: Promise<Versioned<AssignmentRecord>[]> | undefined;
  return () => (loaded ??= allAssignments(ctx, subscriptionId));
}

/**
 * One assignment on one cluster, for both the outbox and rollouts. A failure (an unreadable record,
 * a configuration fought over past the retries) is logged and counted, never fatal to the others (this
 * never throws); a removal may free the name for another assignment of the subscription: the cluster
 * goes back to the outbox so that one gets its turn.
 */
/** whether the assignment a pass holds is still the stored one: the generation, not the etag (a PUT that changed nothing rewrites the record but asks for nothing new) */
function currentCheck(ctx: PassContext, a: Versioned<AssignmentRecord>): () => Promise<boolean> {
  return async () => {
    const now = (await ctx.repo.assignments.get(a.record.subscriptionId, a.record.id))?.record;
    return now !== undefined && now.generation === a.record.generation && now.deletion?.operationId === a.record.deletion?.operationId;
  };
}

/**
 * One assignment on several clusters of its subscription (a rollout's slice): read in bulk and written
 * in one commit per group (applyAssignmentMany); a cluster not settled that way is applied alone
 * (applyOne). Outcomes by position, up to and including the first "stale" (nothing after it was
 * written with the old assignment). Never throws.
 */
export async function applyMany(
  ctx: PassContext,
  a: Versioned<AssignmentRecord>,
  clusterIds: string[],
  report: ReconcileReport,
  siblings: () => Promise<Versioned<AssignmentRecord>[]>,
  viewFor?: ViewFor,
): Promise<Array<ApplyOutcome | "failed">> {
  const keys = clusterIds.map(storedClusterKey);
  let bulk: (ApplyOutcome | undefined)[];
  try {
    bulk = await applyAssignmentMany(ctx.deps, a.record, keys, { stillCurrent: currentCheck(ctx, a), pace: () => ctx.slicer.maybeYield(), viewFor });
  } catch (err) {
    // a bulk read failed: every cluster is tried alone, and reports its own failure
    ctx.log("could not apply a configuration assignment to a group of clusters; applying one by one", { resourceId: a.record.id, clusters: keys.length, err });
    bulk = new Array(keys.length).fill(undefined);
  }
  const out: Array<ApplyOutcome | "failed"> = [];
  for (const [i, key] of keys.entries()) {
    const settled = bulk[i];
    const outcome = settled === undefined ? await applyOne(ctx, a, key, report, siblings, viewFor) : await counted(ctx, a, key, settled, report, siblings);
    out.push(outcome);
    if (outcome === "stale") break;
  }
  return out;
}

/** an outcome applyAssignmentMany settled, counted as applyOne counts its own */
async function counted(
  ctx: PassContext,
  a: Versioned<AssignmentRecord>,
  clusterKey: ClusterKey,
  outcome: ApplyOutcome,
  report: ReconcileReport,
  siblings: () => Promise<Versioned<AssignmentRecord>[]>,
): Promise<ApplyOutcome | "failed"> {
  report.outcomes[outcome]++;
  if (outcome !== "removed") return outcome;
  try {
    await freedName(ctx, a, clusterKey, siblings);
  } catch (err) {
    report.failures++;
    ctx.log("could not apply a configuration assignment to a cluster", { resourceId: a.record.id, clusterId: clusterKey, err });
    return "failed";
  }
  return outcome;
}

/** a removal may free the name for another assignment of the subscription: the cluster goes back to the outbox so that one gets its turn */
async function freedName(ctx: PassContext, a: Versioned<AssignmentRecord>, clusterKey: ClusterKey, siblings: () => Promise<Versioned<AssignmentRecord>[]>): Promise<void> {
  const name = a.record.spec.configurationName.toLowerCase();
  if ((await siblings()).some((o) => o.record.id !== a.record.id && o.record.spec.configurationName.toLowerCase() === name)) {
    await ctx.repo.outbox.touch(a.record.subscriptionId, clusterKey);
  }
}

export async function applyOne(
  ctx: PassContext,
  a: Versioned<AssignmentRecord>,
  clusterId: string,
  report: ReconcileReport,
  siblings: () => Promise<Versioned<AssignmentRecord>[]>,
  viewFor?: ViewFor,
): Promise<ApplyOutcome | "failed"> {
  const clusterKey = storedClusterKey(clusterId);
  try {
    const outcome = await applyAssignment(ctx.deps, a.record, clusterKey, currentCheck(ctx, a), viewFor);
    report.outcomes[outcome]++;
    if (outcome === "removed") await freedName(ctx, a, clusterKey, siblings);
    return outcome;
  } catch (err) {
    report.failures++;
    ctx.log("could not apply a configuration assignment to a cluster", { resourceId: a.record.id, clusterId, err });
    return "failed";
  }
}

/**
 * Staged rollouts: what each staged assignment gives a cluster now (its stage open or not), from the
 * statuses read once here; assignments without a policy are not in the map (no status read for them).
 */
export async function stagedViews(ctx: PassContext, subscriptionId: string, assignments: Versioned<AssignmentRecord>[]): Promise<Map<string, ViewFor>> {
  const staged = assignments.filter((a) => isStaged(a.record));
  const views = new Map<string, ViewFor>();
  if (staged.length === 0) return views;
  const statuses = await ctx.repo.assignments.getManyStatuses(subscriptionId, staged.map((a) => a.record.id));
  for (const a of staged) {
    const status = statuses.get(keyOf(a.record.id));
    views.set(a.record.id, (cluster) => desiredView(a.record, status, cluster));
  }
  return views;
}
