/**
 * Staged rollouts (issue #15), the read side: what-if (which clusters an assignment selects, the stage
 * each is in, what would change on each, without writing anything) and the state of a halt, resume
 * or rollback operation (what its Location answers).
 */
import { errors } from "../arm/errors.js";
import { keyOf } from "../arm/resource-ids.js";
import { decideApply, readHeld } from "./assignment-apply.js";
import { isFluxV2, isManagedBy, matches, mixedMessage } from "./assignment-rules.js";
import { hasSecrets } from "./configurations.js";
import { concerns, freezePlan, isStaged, stageOf } from "./rollout-policy.js";
import type { Persistence } from "../persistence/index.js";
import type { AssignmentRecord, AssignmentStatus, ClusterRecord, ConfigurationSpec, FluxConfigurationSpec, RolloutAction, StagePlan } from "./types.js";

/** Migrate: the cluster switches Flux version (the assignment's v1 configuration retired, its fluxConfiguration created; or back) in one desired-state version */
export type WhatIfChange = "Create" | "Modify" | "Delete" | "NoChange" | "Conflict" | "Migrate";

export interface WhatIfItem {
  clusterId: string;
  /** the stage that carries the change to this cluster (staged assignments) */
  stage?: string;
  change: WhatIfChange;
  /** Modify: the configuration's properties that would change */
  changedProperties?: string[];
  message?: string;
}

export interface WhatIfPage {
  items: WhatIfItem[];
  /** on the first page of a staged assignment: every stage and how many clusters it holds */
  stages?: Array<{ name: string; clusters: number }>;
  continuation?: string;
}

/**
 * The properties of a configuration that differ, by name (nested ones dotted): generic over the
 * spec's fields, so a field added to the configuration is compared without a change here.
 */
export function changedProperties(before: ConfigurationSpec | FluxConfigurationSpec, after: ConfigurationSpec | FluxConfigurationSpec): string[] {
  const out: string[] = [];
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
    // who the Key Vault references were accepted for is the service's record, never shown (not a property)
    if (key === "keyVaultPrincipal") continue;
    const x = b[key];
    const y = a[key];
    const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    if (isObj(x) || isObj(y)) {
      const xo = isObj(x) ? x : {};
      const yo = isObj(y) ? y : {};
      for (const k of [...new Set([...Object.keys(xo), ...Object.keys(yo)])].sort()) if (JSON.stringify(xo[k]) !== JSON.stringify(yo[k])) out.push(`${key}.${k}`);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(key);
  }
  return out;
}

async function decodedPage(repo: Persistence, a: AssignmentRecord, limit: number, continuation?: string): Promise<{ clusters: ClusterRecord[]; continuation?: string }> {
  const page = await repo.clusters.pageDocuments(a.subscriptionId, a.resourceGroup, limit, continuation);
  const clusters: ClusterRecord[] = [];
  for (const doc of page.items) {
    const c = await repo.clusters.decode(doc).catch(() => undefined);
    if (c) clusters.push(c.record);
  }
  return { clusters, continuation: page.continuation };
}

/** one page of what-if over the scope's clusters; `status` given when `a` is the stored generation (its frozen membership is used) */
export async function whatIfPage(repo: Persistence, a: AssignmentRecord, status: AssignmentStatus | undefined, limit: number, continuation?: string): Promise<WhatIfPage> {
  const policy = isStaged(a) ? a.spec.rolloutPolicy : undefined;
  let plan: StagePlan[] | undefined = status?.generation === a.generation ? status.plan : undefined;
  let stages: WhatIfPage["stages"];
  if (policy && (plan === undefined || continuation === undefined)) {
    // the membership this generation has (frozen) or would have (computed now, as its rollout would)
    const concerned: ClusterRecord[] = [];
    let next: string | undefined;
    do {
      const page = await decodedPage(repo, a, 1000, next);
      for (const c of page.clusters) if (concerns(a, c)) concerned.push(c);
      next = page.continuation;
    } while (next !== undefined);
    plan ??= freezePlan(policy, a.id, concerned).plan;
    const counts = policy.stages.map(() => 0);
    for (const c of concerned) {
      const i = stageOf(policy, plan, a.id, c);
      counts[i] = (counts[i] ?? 0) + 1;
    }
    if (continuation === undefined) stages = policy.stages.map((s, i) => ({ name: s.name, clusters: counts[i] ?? 0 }));
  }
  const page = await decodedPage(repo, a, limit, continuation);
  const heldBy = await readHeld(repo, a, page.clusters);
  const items: WhatIfItem[] = [];
  const v2 = isFluxV2(a.spec);
  for (const c of page.clusters) {
    const held = heldBy.get(keyOf(c.id)) ?? {};
    const own = (held.v1 && isManagedBy(held.v1, a)) || (held.v2 && isManagedBy(held.v2, a));
    if (!matches(a, c) && !own) continue;
    const item: WhatIfItem = { clusterId: c.id, change: "NoChange" };
    if (policy && plan && concerns(a, c)) item.stage = policy.stages[stageOf(policy, plan, a.id, c)]?.name;
    const name = a.spec.configurationName;
    switch (decideApply(a, c, held)) {
      case "write":
        if (v2 ? !held.v2 : !held.v1) item.change = "Create";
        else if (v2 && held.v2) {
          item.change = "Modify";
          item.changedProperties = changedProperties(held.v2.spec, a.spec.fluxConfiguration as FluxConfigurationSpec);
        } else if (held.v1) {
          item.change = "Modify";
          item.changedProperties = [...changedProperties(held.v1.spec, a.spec.configuration as ConfigurationSpec), ...(hasSecrets(held.v1) ? ["configurationProtectedSettings"] : [])];
        }
        break;
      case "migrate":
        item.change = "Migrate";
        item.message = v2
          ? `The Flux v1 configuration '${held.v1?.name ?? name}' is retired and the fluxConfiguration '${name.toLowerCase()}' created in one desired-state version: the cluster switches to Flux v2 in one poll.`
          : `The fluxConfiguration '${held.v2?.name ?? name.toLowerCase()}' is retired and the Flux v1 configuration '${name}' created again in one desired-state version.`;
        break;
      case "remove":
        item.change = "Delete";
        break;
      case "clash":
        item.change = "Conflict";
        item.message = mixedMessage(a, held) ?? `A configuration named '${name}' exists on this cluster and the assignment does not manage it; it would be left as it is.`;
        break;
      default:
        if (a.spec.enforcementMode === "DoNotEnforce" && matches(a, c)) item.message = "enforcementMode is DoNotEnforce: the assignment only reports.";
    }
    items.push(item);
  }
  return { items, ...(stages ? { stages } : {}), ...(page.continuation !== undefined ? { continuation: page.continuation } : {}) };
}

/**
 * What the Location of a halt, resume or rollback answers: running until the rollout shows the
 * request's effect (halt: the rollout halted, or had finished; resume and rollback: the rollout
 * completed); a resume or rollback whose rollout is halted again fails (RolloutHalted); a request
 * superseded by a newer generation counts as finished.
 */
export function actionState(a: AssignmentRecord, action: RolloutAction, status: AssignmentStatus | undefined): "running" | "finished" {
  if (a.generation !== action.generation) return "finished";
  const s = status?.generation === action.generation ? status : undefined;
  if (!s) return "running";
  if (action.kind !== "rollback" && (s.actionSeen ?? 0) < action.seq) return s.state === "Completed" ? "finished" : "running";
  if (action.kind === "halt" || s.state === "Completed") return "finished";
  if (s.state === "Halted") throw errors.rolloutHalted(a.name, s.halted?.message ?? "the rollout is halted.");
  return "running";
}
