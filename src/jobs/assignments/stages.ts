/**
 * Staged rollouts (issue #15), the reconciler's side: a new staged generation freezes its membership
 * (one walk of the scope), each stage is written by the ordinary rollout walk (rollout.ts, with each
 * cluster given what its stage has now), then its gate is judged from the agents' reports until it
 * passes (bake time included) or fails (the rollout halts). Halt and resume requests, recorded on the
 * assignment by the API, are acted on here, once each. The state machine is in docs/design/assignments.md.
 */
import { complianceOf, isFluxV2, isManagedBy, matches, sameFluxSpec, sameSpec } from "../../domain/assignment-rules.js";
import { readHeld } from "../../domain/assignment-apply.js";
import {
  addFailing,
  concerns,
  durationMs,
  emptyCounts,
  freezePlan,
  freshStages,
  judgeGate,
  keyOf,
  stageOf,
  type StageCounts,
} from "../../domain/rollout-policy.js";
import type { AssignmentRecord, AssignmentStatus, ClusterRecord, RolloutAction, StageStatus } from "../../domain/types.js";
import { subscriptionPartition, type Versioned } from "../../persistence/index.js";
import type { PassContext, ReconcileReport } from "./context.js";

type Verdict = "more" | "done";

const iso = (ms: number): string => new Date(ms).toISOString();

/** a cluster the walks need not look at: no stage (-1), or not the one asked about */
const NO_STAGE = -1;

/** this replica's cached stages of the assignment's generation (see PassContext.stageCache); undefined: none cached */
export function cachedStages(ctx: PassContext, a: AssignmentRecord): Map<string, { etag: string; stage: number }> | undefined {
  const cached = ctx.stageCache.get(keyOf(a.id));
  return cached?.generation === a.generation ? cached.stages : undefined;
}

/**
 * Every cluster of the scope, decoded (an unreadable one is left out: the rollout walk reports it),
 * except those `skip` names by key and etag (their record unchanged since their stage was cached).
 */
async function* scopeClusters(ctx: PassContext, a: AssignmentRecord, skip: (key: string, etag: string) => boolean = () => false): AsyncGenerator<Array<{ key: string; etag: string; record: ClusterRecord }>> {
  for await (const docs of ctx.repo.clusters.pages(a.subscriptionId, a.resourceGroup, ctx.batchSize)) {
    const out: Array<{ key: string; etag: string; record: ClusterRecord }> = [];
    for (const doc of docs) {
      if (skip(doc.key, doc.etag)) continue;
      const decoded = await ctx.repo.clusters.decode(doc).catch(() => undefined);
      if (decoded) out.push({ key: doc.key, etag: doc.etag, record: decoded.record });
    }
    await ctx.slicer.maybeYield();
    yield out;
  }
}

/**
 * The first status of a staged generation: its membership frozen from the clusters it concerns now,
 * stage 1 open (Applying); `clustersTotal` counts the scope, as an unstaged rollout's does.
 */
export async function freshStagedStatus(ctx: PassContext, a: AssignmentRecord, base: AssignmentStatus): Promise<AssignmentStatus> {
  const policy = a.spec.rolloutPolicy;
  if (!policy) return base;
  const concerned: ClusterRecord[] = [];
  const seen: Array<{ key: string; etag: string; record: ClusterRecord; concerned: boolean }> = [];
  let scope = 0;
  for await (const clusters of scopeClusters(ctx, a)) {
    scope += clusters.length;
    for (const c of clusters) {
      const isConcerned = concerns(a, c.record);
      if (isConcerned) concerned.push(c.record);
      seen.push({ ...c, concerned: isConcerned });
    }
  }
  const { plan, members } = freezePlan(policy, a.id, concerned);
  // this replica remembers each cluster's stage for the walks and gate judgements of this generation
  const stages = new Map(seen.map((c) => [c.key, { etag: c.etag, stage: c.concerned ? stageOf(policy, plan, a.id, c.record) : NO_STAGE }]));
  ctx.stageCache.set(keyOf(a.id), { generation: a.generation, stages });
  const fresh = freshStages(policy, members);
  const now = ctx.clock.now();
  (fresh[0] as StageStatus).state = "Applying";
  (fresh[0] as StageStatus).openedAt = iso(now);
  return { ...base, clustersTotal: scope, plan, stages: fresh, currentStage: 0 };
}

/** the newest halt or resume request of this generation the reconciler has not acted on yet */
function pendingAction(a: AssignmentRecord, status: AssignmentStatus): RolloutAction | undefined {
  const newest = (a.actions ?? []).filter((x) => x.kind !== "rollback").at(-1);
  if (!newest || newest.seq <= (status.actionSeen ?? 0) || newest.generation !== a.generation) return undefined;
  return newest;
}

/** the highest seq of the requests about earlier generations: a new generation's status starts past them (they are not replayed on it) */
export const actionsSeen = (a: AssignmentRecord): number => Math.max(0, ...(a.actions ?? []).filter((x) => x.generation !== a.generation).map((x) => x.seq));

/**
 * Acts on a halt or resume request once: halt stops the rollout where it stands (the batch in flight
 * finishes; nothing more is written); resume lifts a halt - a stage halted by its gate is judged
 * again with a fresh deadline, a stage halted while being written carries on from its cursor.
 * Returns the status to write, or undefined when there was nothing to do.
 */
export function actOnRequest(a: AssignmentRecord, status: AssignmentStatus, now: number): AssignmentStatus | undefined {
  const action = pendingAction(a, status);
  if (!action) return undefined;
  const next: AssignmentStatus = { ...status, actionSeen: action.seq, stages: status.stages?.map((s) => ({ ...s })) };
  const stage = next.currentStage === undefined ? undefined : next.stages?.[next.currentStage];
  if (action.kind === "halt" && status.state === "InProgress") {
    next.state = "Halted";
    next.halted = { reason: "User", at: iso(now), ...(stage ? { stage: stage.name } : {}), message: `Halted by a user's request at ${action.at}${action.reason ? ` (${action.reason})` : ""}; POST resume to continue.` };
  } else if (action.kind === "resume" && status.state === "Halted") {
    next.state = "InProgress";
    delete next.halted;
    if (stage && stage.state === "Failed") {
      stage.state = "Waiting";
      stage.openedAt = iso(now); // a fresh progress deadline
      delete stage.failedAt;
      delete stage.gateMetAt;
      stage.message = "Resumed: the gate is judged again, with a fresh progress deadline.";
    }
  }
  return next;
}

/** the counts of the stage's clusters: those of the stage the new generation selects, judged as compliance results are */
async function countStage(ctx: PassContext, a: AssignmentRecord, status: AssignmentStatus, index: number): Promise<StageCounts> {
  const policy = a.spec.rolloutPolicy;
  const counts = emptyCounts();
  if (!policy || !status.plan) return counts;
  const cached = cachedStages(ctx, a);
  const skip = (key: string, etag: string): boolean => {
    const known = cached?.get(key);
    return known !== undefined && known.etag === etag && known.stage !== index;
  };
  for await (const page of scopeClusters(ctx, a, skip)) {
    const members = page.map((c) => c.record).filter((c) => matches(a, c) && stageOf(policy, status.plan ?? [], a.id, c) === index);
    if (members.length === 0) continue;
    // a Flux v2 generation is judged on the managed fluxConfigurations (the agents' Agent_ReportFluxStatus reports)
    const heldBy = await readHeld(ctx.repo, a, members);
    for (const c of members) {
      const held = heldBy.get(keyOf(c.id)) ?? {};
      counts.clustersTotal++;
      if (isFluxV2(a.spec) ? held.v2 && isManagedBy(held.v2, a) && sameFluxSpec(held.v2.spec, a.spec.fluxConfiguration) : held.v1 && a.spec.configuration && isManagedBy(held.v1, a) && sameSpec(held.v1.spec, a.spec.configuration)) counts.applied++;
      const result = complianceOf(a, c, held);
      if (result.complianceState === "Compliant") counts.installed++;
      else if (result.complianceState === "Failed") {
        counts.failed++;
        addFailing(counts, c.id, result.message);
      }
    }
    await ctx.slicer.maybeYield();
  }
  return counts;
}

/**
 * The open stage's gate, judged now (at most every gateIntervalMs per assignment): Waiting -> Baking
 * when met; Baking -> Passed once the bake time has passed with the gate still met (-> Waiting when it
 * no longer is); any -> Failed when too many failed or the deadline passed, which halts the rollout.
 * Passed opens the next stage (Applying), or completes the rollout after the last.
 */
export async function judgeOpenStage(ctx: PassContext, found: Versioned<AssignmentRecord>, status: Versioned<AssignmentStatus>, report: ReconcileReport): Promise<Verdict> {
  const a = found.record;
  const policy = a.spec.rolloutPolicy;
  const index = status.record.currentStage ?? 0;
  const stageSpec = policy?.stages[index];
  const stage = status.record.stages?.[index];
  if (!policy || !stageSpec || !stage) return "done";
  const dueKey = `${keyOf(a.id)}#${a.generation}#${index}`;
  const now = ctx.clock.now();
  if ((ctx.gateDue.get(dueKey) ?? 0) > now) return "done";
  const counts = await countStage(ctx, a, status.record, index);
  const at = ctx.clock.now();
  ctx.gateDue.set(dueKey, at + ctx.gateIntervalMs);
  const verdict = judgeGate(stageSpec, counts, Date.parse(stage.openedAt ?? iso(at)), at);
  const next: AssignmentStatus = { ...status.record, stages: status.record.stages?.map((s) => ({ ...s })) };
  const s = (next.stages as StageStatus[])[index] as StageStatus;
  Object.assign(s, { clustersTotal: counts.clustersTotal, applied: counts.applied, installed: counts.installed, failed: counts.failed });
  if (counts.failingClusters.length > 0) s.failingClusters = counts.failingClusters;
  else delete s.failingClusters;
  let verdictOut: Verdict = "done";
  if (verdict.state === "failed") {
    s.state = "Failed";
    s.failedAt = iso(at);
    s.message = verdict.message;
    next.state = "Halted";
    next.halted = { reason: "Gate", at: iso(at), stage: s.name, message: verdict.message };
    ctx.log("assignment rollout halted by a stage gate", { resourceId: a.id, generation: a.generation, stage: s.name, reason: verdict.message });
  } else if (verdict.state === "waiting") {
    s.state = "Waiting";
    delete s.gateMetAt;
    s.message = verdict.message;
  } else {
    s.gateMetAt ??= iso(at);
    const bakeEnds = Date.parse(s.gateMetAt) + (durationMs(stageSpec.bakeTime) ?? 0);
    if (at < bakeEnds) {
      s.state = "Baking";
      s.message = `The gate is met; baking until ${iso(bakeEnds)}.`;
      ctx.gateDue.set(dueKey, Math.min(at + ctx.gateIntervalMs, bakeEnds));
    } else {
      s.state = "Passed";
      s.passedAt = iso(at);
      delete s.message;
      verdictOut = "more";
      const following = next.stages?.[index + 1];
      if (following) {
        following.state = "Applying";
        following.openedAt = iso(at);
        next.currentStage = index + 1;
        next.clustersProcessed = 0;
        delete next.cursor;
      } else {
        next.state = "Completed";
        next.completedAt = iso(at);
        report.rolloutsCompleted++;
        ctx.log("assignment rollout completed", { resourceId: a.id, generation: a.generation, stages: policy.stages.length });
      }
    }
  }
  if (s.state === "Passed" || s.state === "Failed") ctx.gateDue.delete(dueKey);
  // a judgement that changed nothing (a stage waiting on its agents) writes nothing
  if (JSON.stringify(next) === JSON.stringify(status.record)) return verdictOut;
  await ctx.repo.assignments.writeStatus(a.subscriptionId, a.id, next, status.etag);
  ctx.markChanged(subscriptionPartition(a.subscriptionId));
  return verdictOut;
}

/** after a stage's walk reached the end of the scope: the stage waits on its gate instead of the rollout completing */
export function walkEnded(status: AssignmentStatus): AssignmentStatus {
  const next: AssignmentStatus = { ...status, state: "InProgress", stages: status.stages?.map((s) => ({ ...s })) };
  delete next.completedAt;
  const stage = next.currentStage === undefined ? undefined : next.stages?.[next.currentStage];
  if (stage) {
    stage.state = "Waiting";
    stage.message = "Written; waiting for the clusters' agents to report.";
  }
  return next;
}
