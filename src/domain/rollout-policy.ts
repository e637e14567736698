/**
 * Staged rollouts (issue #15): the one owner of what an assignment's `rolloutPolicy` means - how a
 * submitted policy is read, which stage a cluster belongs to (membership frozen per generation), what
 * a cluster of a stage not yet opened keeps, and the gate arithmetic. Pure: the reconciler
 * (jobs/assignments/stages.ts) walks the clusters and writes the status, the surfaces show it.
 */
import crypto from "node:crypto";
import { keyOf } from "../arm/resource-ids.js";
import { quote } from "../arm/quote.js";
import * as ClusterSelectors from "./cluster-selector.js";
import { matches } from "./assignment-rules.js";
import type { AssignmentRecord, AssignmentStatus, ClusterRecord, RolloutGates, RolloutPolicy, RolloutStage, StagePlan, StageStatus } from "./types.js";

/** the store key of an id (how the persistence maps are keyed), for the reconciler */
export { keyOf } from "../arm/resource-ids.js";

export const MAX_STAGES = 10;
/** failing clusters kept per stage in the status (with their messages, each cut to MESSAGE_MAX) */
export const MAX_FAILING_SHOWN = 10;
const MESSAGE_MAX = 512;
const STAGE_NAME = /^[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

export const DEFAULT_GATES: RolloutGates = { minInstalledPercentage: 100, progressDeadline: "PT1H" };

// ISO 8601 durations, ARM style ------------------------------------------------------------------

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** milliseconds of an ISO 8601 duration (days, hours, minutes, seconds; no years or months), undefined when it is not one */
export function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const [, d, h, min, s] = m;
  return (Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1000;
}

const MAX_DURATION_MS = 30 * 86_400_000;

// reading a submitted policy ---------------------------------------------------------------------

export interface PolicyProblem {
  target: string;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function readDuration(problems: PolicyProblem[], target: string, raw: unknown, fallback: string): string {
  if (raw === undefined || raw === null) return fallback;
  const ms = typeof raw === "string" ? durationMs(raw) : undefined;
  if (ms === undefined || ms > MAX_DURATION_MS) {
    problems.push({ target, message: `${quote(String(raw))} is not an ISO 8601 duration of at most 30 days, such as 'PT30M', 'PT1H' or 'P1DT12H'.` });
    return fallback;
  }
  return raw as string;
}

function readGates(problems: PolicyProblem[], target: string, raw: unknown): RolloutGates {
  if (raw === undefined || raw === null) return { ...DEFAULT_GATES };
  if (!isObject(raw)) {
    problems.push({ target, message: "The gates must be an object with 'minInstalledPercentage', 'progressDeadline', 'maxFailures' and/or 'maxFailurePercentage'." });
    return { ...DEFAULT_GATES };
  }
  const gates: RolloutGates = { ...DEFAULT_GATES };
  const share = (field: "minInstalledPercentage" | "maxFailurePercentage"): number | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (!isNumber(v) || v < 0 || v > 100) problems.push({ target: `${target}.${field}`, message: `'${field}' must be a number from 0 to 100.` });
    else return v;
    return undefined;
  };
  gates.minInstalledPercentage = share("minInstalledPercentage") ?? DEFAULT_GATES.minInstalledPercentage;
  gates.progressDeadline = readDuration(problems, `${target}.progressDeadline`, raw.progressDeadline, DEFAULT_GATES.progressDeadline);
  if (raw.maxFailures !== undefined && raw.maxFailures !== null) {
    if (!Number.isInteger(raw.maxFailures) || (raw.maxFailures as number) < 0) problems.push({ target: `${target}.maxFailures`, message: "'maxFailures' must be a whole number of clusters, 0 or more." });
    else gates.maxFailures = raw.maxFailures as number;
  }
  const pct = share("maxFailurePercentage");
  if (pct !== undefined) gates.maxFailurePercentage = pct;
  for (const key of Object.keys(raw)) {
    if (!["minInstalledPercentage", "progressDeadline", "maxFailures", "maxFailurePercentage"].includes(key)) problems.push({ target: `${target}.${key}`, message: `The gates have no property ${quote(key)}.` });
  }
  return gates;
}

/** reads a submitted policy: the policy (absent: none) or its problems, targets under `base` */
export function parseRolloutPolicy(raw: unknown, base: string): { policy?: RolloutPolicy; problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  if (raw === undefined || raw === null) return { problems };
  if (!isObject(raw) || !Array.isArray(raw.stages)) return { problems: [{ target: base, message: "The rollout policy must be an object with 'stages', an ordered list of stages." }] };
  if (raw.stages.length === 0 || raw.stages.length > MAX_STAGES) return { problems: [{ target: `${base}.stages`, message: `A rollout policy has 1 to ${MAX_STAGES} stages.` }] };
  const names = new Set<string>();
  const rawStages: unknown[] = raw.stages;
  const stages: RolloutStage[] = rawStages.map((s: unknown, i: number): RolloutStage => {
    const target = `${base}.stages[${i}]`;
    const stage = isObject(s) ? s : {};
    if (!isObject(s)) problems.push({ target, message: "A stage must be an object with a 'name'." });
    const name = typeof stage.name === "string" ? stage.name : "";
    if (!STAGE_NAME.test(name)) problems.push({ target: `${target}.name`, message: `The stage name ${quote(name)} is invalid: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit.` });
    else if (names.has(name.toLowerCase())) problems.push({ target: `${target}.name`, message: `Two stages are named ${quote(name)}.` });
    names.add(name.toLowerCase());
    const out: RolloutStage = { name, bakeTime: readDuration(problems, `${target}.bakeTime`, stage.bakeTime, "PT0S"), gates: readGates(problems, `${target}.gates`, stage.gates) };
    const hasSelector = stage.clusterSelector !== undefined && stage.clusterSelector !== null;
    const hasShare = stage.percentage !== undefined && stage.percentage !== null;
    if (hasSelector && hasShare) problems.push({ target, message: "A stage selects its clusters by 'clusterSelector' or by 'percentage', not both." });
    if (hasSelector) {
      const parsed = ClusterSelectors.parseSelector(stage.clusterSelector);
      for (const p of parsed.problems) problems.push({ target: p.criterion === undefined ? `${target}.clusterSelector` : `${target}.clusterSelector.${p.criterion}`, message: p.message });
      if (parsed.selector) out.clusterSelector = parsed.selector;
      else if (parsed.problems.length === 0) problems.push({ target: `${target}.clusterSelector`, message: "A stage's clusterSelector must name at least one criterion (an empty one would take every remaining cluster: use 'percentage': 100)." });
    } else if (hasShare) {
      if (!isNumber(stage.percentage) || stage.percentage <= 0 || stage.percentage > 100) problems.push({ target: `${target}.percentage`, message: "'percentage' must be a number greater than 0 and at most 100." });
      else out.percentage = stage.percentage;
    } else if (i < rawStages.length - 1) {
      problems.push({ target, message: "Every stage but the last selects its clusters, by 'clusterSelector' or 'percentage' (the last takes every cluster left)." });
    }
    for (const key of Object.keys(stage)) {
      if (!["name", "clusterSelector", "percentage", "bakeTime", "gates"].includes(key)) problems.push({ target: `${target}.${key}`, message: `A stage has no property ${quote(key)}.` });
    }
    return out;
  });
  for (const key of Object.keys(raw)) if (key !== "stages") problems.push({ target: `${base}.${key}`, message: `The rollout policy has no property ${quote(key)}.` });
  return problems.length > 0 ? { problems } : { policy: { stages }, problems };
}

// membership ---------------------------------------------------------------------------------------

/**
 * A cluster's place in the stable order of an assignment: the same across generations (the same
 * canaries each time), different between assignments (one assignment's canaries are not every one's).
 */
export function stableHash(assignmentId: string, clusterId: string): number {
  const key = `${keyOf(assignmentId)}\n${keyOf(clusterId)}`;
  let hash = hashes.get(key);
  if (hash === undefined) {
    hash = crypto.createHash("sha256").update(key).digest().readUIntBE(0, 6);
    // every walk of a staged rollout asks for each cluster's: remembered, up to a bound
    if (hashes.size >= MAX_HASHES_KEPT) hashes.clear();
    hashes.set(key, hash);
  }
  return hash;
}

const MAX_HASHES_KEPT = 200_000;
const hashes = new Map<string, number>();

/** the rollout of this generation goes in stages (a deletion and a rollback go everywhere at once) */
export function isStaged(a: AssignmentRecord): boolean {
  return a.spec.rolloutPolicy !== undefined && a.deletion === undefined && a.rollbackOf === undefined;
}

/** the previous generation's assignment, as clusters of stages not yet opened keep it (undefined: there was none) */
export function previousView(a: AssignmentRecord): AssignmentRecord | undefined {
  return a.previous === undefined ? undefined : { ...a, spec: a.previous };
}

/** the clusters a staged generation concerns: those it selects, and those the previous one selected (they lose it in their stage) */
export function concerns(a: AssignmentRecord, cluster: ClusterRecord): boolean {
  const before = previousView(a);
  return matches(a, cluster) || (before !== undefined && matches(before, cluster));
}

/** the stage (index) of a cluster under a frozen plan: the first stage that takes it; the last takes every cluster left */
export function stageOf(policy: RolloutPolicy, plan: readonly StagePlan[], assignmentId: string, cluster: ClusterRecord): number {
  const last = policy.stages.length - 1;
  let hash: number | undefined;
  for (const [i, stage] of policy.stages.entries()) {
    if (stage.clusterSelector !== undefined) {
      if (ClusterSelectors.matches(stage.clusterSelector, cluster)) return i;
    } else if (stage.percentage !== undefined) {
      const limit = plan[i]?.hashAtMost;
      hash ??= stableHash(assignmentId, cluster.id);
      if (limit !== undefined && hash <= limit) return i;
    } else return i;
  }
  return last;
}

/**
 * Freezes a generation's membership from the clusters it concerns: in stage order, a selector stage
 * takes the remaining clusters it selects; a percentage stage takes ceil(p% of the remaining) in the
 * stable order (the hash of the last one taken is kept, so a cluster joining later lands where the
 * same rule puts it); the last stage takes the rest. Returns the plan and the members per stage.
 */
export function freezePlan(policy: RolloutPolicy, assignmentId: string, clusters: readonly ClusterRecord[]): { plan: StagePlan[]; members: number[] } {
  let remaining = clusters.map((c) => ({ c, hash: stableHash(assignmentId, c.id) }));
  const plan: StagePlan[] = [];
  const members: number[] = [];
  for (const [i, stage] of policy.stages.entries()) {
    const lastStage = i === policy.stages.length - 1;
    let taken: typeof remaining;
    if (stage.clusterSelector !== undefined) {
      taken = remaining.filter((r) => ClusterSelectors.matches(stage.clusterSelector, r.c));
      plan.push({});
    } else if (stage.percentage !== undefined) {
      const sorted = [...remaining].sort((x, y) => x.hash - y.hash);
      const n = Math.ceil((stage.percentage * sorted.length) / 100);
      const limit = n > 0 ? (sorted[n - 1] as (typeof sorted)[number]).hash : -1;
      plan.push({ hashAtMost: limit });
      taken = sorted.filter((r) => r.hash <= limit);
    } else {
      taken = remaining;
      plan.push({});
    }
    if (lastStage) taken = remaining;
    const set = new Set(taken);
    remaining = remaining.filter((r) => !set.has(r));
    members.push(taken.length);
  }
  return { plan, members };
}

/**
 * What one cluster should have now under a staged rollout: the assignment (its stage is open), the
 * previous generation's assignment (its stage is not), or undefined: leave it as it is (no previous
 * generation completed yet). Not staged: the assignment itself, as before.
 */
export function desiredView(a: AssignmentRecord, status: AssignmentStatus | undefined, cluster: ClusterRecord): AssignmentRecord | undefined {
  const policy = a.spec.rolloutPolicy;
  if (!policy || !isStaged(a)) return a;
  const current = status?.generation === a.generation ? status : undefined;
  const open = current?.currentStage;
  if (current?.plan !== undefined && open !== undefined && (current.state === "Completed" || stageOf(policy, current.plan, a.id, cluster) <= open)) return a;
  return previousView(a);
}

// gates --------------------------------------------------------------------------------------------

export interface StageCounts {
  clustersTotal: number;
  applied: number;
  installed: number;
  failed: number;
  failingClusters: Array<{ clusterId: string; message: string }>;
}

export const emptyCounts = (): StageCounts => ({ clustersTotal: 0, applied: 0, installed: 0, failed: 0, failingClusters: [] });

export function addFailing(counts: StageCounts, clusterId: string, message: string): void {
  if (counts.failingClusters.length < MAX_FAILING_SHOWN) counts.failingClusters.push({ clusterId, message: message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX - 1)}…` : message });
}

/** clusters that must report Installed: ceil(minInstalledPercentage% of the stage) */
export const requiredInstalled = (gates: RolloutGates, total: number): number => Math.ceil((gates.minInstalledPercentage * total) / 100 - 1e-9);

/** failures the gate tolerates: the smaller of maxFailures and floor(maxFailurePercentage% of the stage); neither given: none */
export function allowedFailures(gates: RolloutGates, total: number): number {
  const byCount = gates.maxFailures ?? Number.POSITIVE_INFINITY;
  const byShare = gates.maxFailurePercentage === undefined ? Number.POSITIVE_INFINITY : Math.floor((gates.maxFailurePercentage * total) / 100 + 1e-9);
  const allowed = Math.min(byCount, byShare);
  return Number.isFinite(allowed) ? allowed : 0;
}

export type GateVerdict = { state: "met" } | { state: "waiting"; message: string } | { state: "failed"; message: string };

/** the gate of a stage now: failed as soon as too many failed, or when the deadline passed short of the share */
export function judgeGate(stage: RolloutStage, counts: StageCounts, openedAt: number, now: number): GateVerdict {
  const { gates } = stage;
  const allowed = allowedFailures(gates, counts.clustersTotal);
  if (counts.failed > allowed) {
    return { state: "failed", message: `${counts.failed} of ${counts.clustersTotal} clusters of stage ${quote(stage.name)} reported Failed; the gate allows ${allowed}.` };
  }
  const required = requiredInstalled(gates, counts.clustersTotal);
  if (counts.installed >= required) return { state: "met" };
  const deadline = openedAt + (durationMs(gates.progressDeadline) ?? 0);
  const short = `${counts.installed} of ${counts.clustersTotal} clusters of stage ${quote(stage.name)} reported Installed; the gate needs ${required}`;
  if (now >= deadline) return { state: "failed", message: `${short} within ${gates.progressDeadline}.` };
  return { state: "waiting", message: `${short} by ${new Date(deadline).toISOString()}.` };
}

/** the stage statuses of a new generation: every stage NotStarted, with its frozen member count */
export function freshStages(policy: RolloutPolicy, members: readonly number[]): StageStatus[] {
  return policy.stages.map((s, i) => ({ name: s.name, state: "NotStarted", clustersTotal: members[i] ?? 0, applied: 0, installed: 0, failed: 0 }));
}
