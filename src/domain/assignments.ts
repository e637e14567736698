/**
 * Configuration assignments: one configuration for every matching cluster of a subscription or
 * resource group. Writes here only record intent (the spec, a generation, a deletion request);
 * the reconciler (jobs/assignments/reconciler.ts) carries it to the clusters in bounded batches.
 */
import crypto from "node:crypto";
import { checkDeleteConditions, checkPutConditions, hasConditions, type Conditions } from "../arm/etag.js";
import { errors } from "../arm/errors.js";
import { ASSIGNMENT_TYPE, keyOf, storedClusterKey, type AssignmentId, type AssignmentRef, type AssignmentScope } from "../arm/resource-ids.js";
import { nextSystemData, type WriteActor } from "../arm/system-data.js";
import type { Principal } from "../ports/principal.js";
import { complianceOf, matches, type ClusterCompliance } from "./assignment-rules.js";
import { readHeld } from "./assignment-apply.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Persistence, StoredDocument, Versioned } from "../persistence/index.js";
import type { Subscriptions } from "./subscriptions.js";
import type { AssignmentRecord, AssignmentSpec, AssignmentStatus, ClusterRecord, RolloutAction } from "./types.js";
import { actionState, whatIfPage, type WhatIfPage } from "./assignment-what-if.js";
import { checkVaultTrust, NO_VAULTS, vaultPrincipalOf, type VaultAccessChecker } from "./keyvault-trust.js";
import { checkAssignmentName, requireProperties, validateAssignmentPut } from "./validation/assignment.js";

export const MAX_ASSIGNMENTS_PER_SUBSCRIPTION = 200;
/** halt/resume/rollback requests kept on the record (their Locations answer from here) */
const MAX_ACTIONS_KEPT = 5;

/** an assignment named by a path, parsed once at the surface (src/arm/resource-ids.ts) */
export type { AssignmentRef } from "../arm/resource-ids.js";

export interface AssignmentView {
  record: AssignmentRecord;
  etag: string;
  status?: AssignmentStatus;
}

const sameSpec = (a: AssignmentSpec, b: AssignmentSpec): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/** key order does not make two specs differ */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
}

export class Assignments {
  constructor(
    private readonly repo: Persistence,
    private readonly subscriptions: Subscriptions,
    /** tells this process's reconciler there is work (other replicas' reconcilers find it on their next pass) */
    private readonly wake: () => void = () => undefined,
    /** who may have which vaults read for the configuration's Key Vault references */
    private readonly vaultAccess: VaultAccessChecker = NO_VAULTS,
  ) {}

  private id(ref: AssignmentRef): AssignmentId {
    return ref.id;
  }

  private notFound(ref: AssignmentRef) {
    return errors.resourceNotFound(ASSIGNMENT_TYPE, ref.name, ref.resourceGroup ?? "");
  }

  private async find(ref: AssignmentRef): Promise<Versioned<AssignmentRecord>> {
    const found = await this.repo.assignments.get(ref.subscriptionId, this.id(ref));
    if (!found) throw this.notFound(ref);
    return found;
  }

  async get(principal: Principal, ref: AssignmentRef): Promise<AssignmentView> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.find(ref);
    const status = await this.repo.assignments.getStatus(ref.subscriptionId, found.record.id);
    return { record: found.record, etag: found.etag, status: status?.record };
  }

  /** every assignment of the scope (`resourceGroup` undefined: of the whole subscription) */
  async list(principal: Principal, { subscriptionId, resourceGroup }: AssignmentScope, limit: number, continuation?: string) {
    await this.subscriptions.authorize(principal, subscriptionId, "read");
    const page = await this.repo.assignments.page(subscriptionId, resourceGroup, limit, continuation);
    const statuses = await this.repo.assignments.getManyStatuses(subscriptionId, page.items.map((v) => v.record.id));
    const items: AssignmentView[] = page.items.map((v) => ({ record: v.record, etag: v.etag, status: statuses.get(keyOf(v.record.id)) }));
    return { items, continuation: page.continuation };
  }

  async put(principal: Principal, ref: AssignmentRef, body: Record<string, unknown>, conditions: Conditions, actor: WriteActor) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const id = this.id(ref);
    checkAssignmentName(ref.name);
    const properties = requireProperties(body);
    // the caller's right to every vault it names, before the assignment is read and before anything is written
    const caller = vaultPrincipalOf(principal);
    const rawConfiguration = properties.configuration as Record<string, unknown> | undefined;
    await checkVaultTrust(this.vaultAccess, caller, ref.subscriptionId, typeof rawConfiguration === "object" && rawConfiguration !== null ? rawConfiguration.keyVaultReferences : undefined, "properties.configuration");
    const result = await withOptimisticRetry(hasConditions(conditions), async () => {
      const existing = await this.repo.assignments.get(ref.subscriptionId, id);
      checkPutConditions(conditions, existing?.etag);
      if (existing?.record.deletion) throw errors.assignmentDeleting(ref.name);
      if (!existing) await this.checkQuota(ref.subscriptionId);
      const validated = validateAssignmentPut({ name: ref.name, properties, existing: existing?.record });
      // the references are accepted for this caller; the rollout writes them with it, the resolver re-checks it
      const spec = validated.configuration?.keyVaultReferences ? { ...validated, configuration: { ...validated.configuration, keyVaultPrincipal: caller } } : validated;
      const status = existing ? await this.repo.assignments.getStatus(ref.subscriptionId, id) : undefined;
      // a PUT of a Failed assignment tries again, as ARM expects, even with the same spec
      const failed = status?.record.generation === existing?.record.generation && status?.record.state === "Completed" && (status.record.clustersFailed ?? 0) > 0;
      // so does a PUT of one halted by a failing gate (shown Failed): a new generation, from the first stage
      const gateHalted = status?.record.generation === existing?.record.generation && status?.record.state === "Halted" && status.record.halted?.reason === "Gate";
      const changed = !existing || !sameSpec(existing.record.spec, spec) || failed || gateHalted;
      // what clusters of stages not yet opened keep: the spec of the last generation whose rollout completed
      const completed = existing !== undefined && status?.record.generation === existing.record.generation && status.record.state === "Completed";
      const previous = changed && completed && !sameSpec(existing.record.spec, spec) ? existing.record.spec : existing?.record.previous;
      const record: AssignmentRecord = {
        id: existing?.record.id ?? id,
        name: existing?.record.name ?? ref.name,
        subscriptionId: ref.subscriptionId,
        ...(ref.resourceGroup !== undefined ? { resourceGroup: ref.resourceGroup } : {}),
        spec,
        // an unchanged spec is no new rollout: a repeated PUT is idempotent
        generation: (existing?.record.generation ?? 0) + (changed ? 1 : 0),
        ...(previous !== undefined ? { previous } : {}),
        // a rollback's generation stays one until the next change
        ...(!changed && existing?.record.rollbackOf !== undefined ? { rollbackOf: existing.record.rollbackOf } : {}),
        ...(existing?.record.actions !== undefined ? { actions: existing.record.actions } : {}),
        systemData: nextSystemData(existing?.record.systemData, actor),
      };
      const saved = await this.repo.assignments.write(record, existing?.etag);
      return { created: existing === undefined, view: { record, etag: saved.etag, status: status?.record } };
    });
    this.wake();
    return result;
  }

  /** the reconciler reads every assignment on every pass: their number per subscription is bounded */
  private async checkQuota(subscriptionId: string): Promise<void> {
    const page = await this.repo.assignments.page(subscriptionId, undefined, MAX_ASSIGNMENTS_PER_SUBSCRIPTION);
    if (page.continuation !== undefined || page.items.length >= MAX_ASSIGNMENTS_PER_SUBSCRIPTION) throw errors.assignmentQuota(MAX_ASSIGNMENTS_PER_SUBSCRIPTION);
  }

  /**
   * Asynchronous: marks the assignment for deletion and returns the operation id to poll. The
   * reconciler removes every configuration the assignment manages, then the assignment itself.
   * Undefined when there was nothing to delete.
   */
  async delete(principal: Principal, ref: AssignmentRef, conditions: Conditions, actor: WriteActor): Promise<string | undefined> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "delete");
    const id = this.id(ref);
    const operationId = await withOptimisticRetry(hasConditions(conditions), async () => {
      const existing = await this.repo.assignments.get(ref.subscriptionId, id);
      checkDeleteConditions(conditions, existing?.etag);
      if (!existing) return undefined;
      if (existing.record.deletion) return existing.record.deletion.operationId;
      const deletion = { operationId: crypto.randomUUID(), requestedAt: actor.at };
      await this.repo.assignments.write({ ...existing.record, generation: existing.record.generation + 1, deletion }, existing.etag);
      return deletion.operationId;
    });
    if (operationId !== undefined) this.wake();
    return operationId;
  }

  /**
   * The operation named by `operationId`: a deletion (still removing configurations, or finished), a
   * halt, resume or rollback (running until the rollout shows its effect; a resume or rollback whose
   * rollout halted again fails with RolloutHalted), or unknown (404).
   */
  async deletionState(principal: Principal, ref: AssignmentRef, operationId: string): Promise<"running" | "finished"> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.repo.assignments.get(ref.subscriptionId, this.id(ref));
    if (found?.record.deletion?.operationId.toLowerCase() === operationId.toLowerCase()) return "running";
    const action = found?.record.actions?.find((x) => x.operationId.toLowerCase() === operationId.toLowerCase());
    if (found && action) {
      const status = await this.repo.assignments.getStatus(ref.subscriptionId, found.record.id);
      return actionState(found.record, action, status?.record);
    }
    if (await this.repo.operations.isFinished(ref.subscriptionId, operationId, this.id(ref))) return "finished";
    throw errors.operationNotFound(operationId);
  }

  /**
   * halt, resume, rollback (ARM POST actions, asynchronous): each is recorded on the assignment and
   * acted on by the reconciler; the operation id is the one its Location polls. halt stops the running
   * rollout before its next batch; resume lifts a halt; rollback makes the previous generation's
   * configuration the desired one again (a new generation, rolled out at once, not in stages).
   */
  async rolloutAction(principal: Principal, ref: AssignmentRef, kind: RolloutAction["kind"], conditions: Conditions, actor: WriteActor, reason?: string): Promise<string> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const operationId = await withOptimisticRetry(hasConditions(conditions), async () => {
      const existing = await this.find(ref);
      checkPutConditions(conditions, existing.etag);
      const a = existing.record;
      if (a.deletion) throw errors.assignmentDeleting(ref.name);
      const status = (await this.repo.assignments.getStatus(ref.subscriptionId, a.id))?.record;
      const current = status?.generation === a.generation ? status : undefined;
      const actions = a.actions ?? [];
      const pending = actions.filter((x) => x.kind !== "rollback" && x.generation === a.generation && x.seq > (current?.actionSeen ?? 0)).at(-1);
      const seq = Math.max(0, ...actions.map((x) => x.seq)) + 1;
      const action: RolloutAction = { operationId: crypto.randomUUID(), kind, generation: a.generation, seq, at: actor.at, ...(reason ? { reason } : {}) };
      // the rollout's state once the request not yet acted on is (a new generation not started yet runs)
      const effective = pending?.kind === "halt" ? "Halted" : pending?.kind === "resume" ? "InProgress" : (current?.state ?? "InProgress");
      let record: AssignmentRecord;
      if (kind === "halt" || kind === "resume") {
        if (pending?.kind === kind) return pending.operationId; // asked already: the same operation
        if (kind === "halt" && effective !== "InProgress") throw errors.rolloutNotInProgress(ref.name);
        if (kind === "resume" && effective !== "Halted") throw errors.rolloutNotHalted(ref.name);
        record = { ...a, actions: [...actions, action].slice(-MAX_ACTIONS_KEPT) };
      } else {
        const previous = a.previous;
        if (!previous) throw errors.noPreviousGeneration(ref.name, "no earlier generation of it completed its rollout.");
        // the previous configuration, selector and mode; the rollout policy stays the current one
        const { rolloutPolicy: _dropped, ...restored } = previous;
        // Key Vault references come back under the right of the caller of the rollback, the spec's new
        // author (checked as a PUT of them is): never under the previous author's, who moved away from them
        const refs = restored.configuration?.keyVaultReferences;
        if (refs && restored.configuration) {
          await checkVaultTrust(this.vaultAccess, vaultPrincipalOf(principal), ref.subscriptionId, refs, "properties.configuration");
          restored.configuration = { ...restored.configuration, keyVaultPrincipal: vaultPrincipalOf(principal) };
        }
        const spec: AssignmentSpec = { ...restored, ...(a.spec.rolloutPolicy ? { rolloutPolicy: a.spec.rolloutPolicy } : {}) };
        if (sameSpec(spec, a.spec)) throw errors.noPreviousGeneration(ref.name, "its configuration already is the previous generation's.");
        const generation = a.generation + 1;
        record = {
          ...a,
          spec,
          generation,
          rollbackOf: a.generation,
          actions: [...actions, { ...action, generation }].slice(-MAX_ACTIONS_KEPT),
          systemData: nextSystemData(a.systemData, actor),
        };
      }
      await this.repo.assignments.write(record, existing.etag);
      return action.operationId;
    });
    this.wake();
    return operationId;
  }

  /**
   * What-if: which clusters the assignment (or, with `properties`, the assignment as that PUT would
   * make it) selects, the stage each is in, and whether its configuration would be created, changed
   * (which properties), deleted or left alone. Changes nothing. Paged over the scope's clusters.
   */
  async whatIf(principal: Principal, ref: AssignmentRef, body: Record<string, unknown>, limit: number, continuation?: string): Promise<WhatIfPage> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.find(ref);
    const a = found.record;
    const status = (await this.repo.assignments.getStatus(ref.subscriptionId, a.id))?.record;
    let proposed = a;
    if (body.properties !== undefined) {
      const validated = validateAssignmentPut({ name: ref.name, properties: requireProperties(body), existing: a });
      // as the PUT would record it: references are accepted for their writer (a change of author is a change)
      const spec = validated.configuration?.keyVaultReferences ? { ...validated, configuration: { ...validated.configuration, keyVaultPrincipal: vaultPrincipalOf(principal) } } : validated;
      if (!sameSpec(spec, a.spec)) {
        const completed = status?.generation === a.generation && status.state === "Completed";
        const previous = completed ? a.spec : a.previous;
        const { rollbackOf: _r, ...rest } = a;
        proposed = { ...rest, spec, generation: a.generation + 1, ...(previous ? { previous } : {}) };
      }
    }
    return whatIfPage(this.repo, proposed, proposed === a ? status : undefined, limit, continuation);
  }

  /**
   * One page of per-cluster compliance: the clusters of the scope, those the assignment selects, and
   * how each complies now. A page may hold fewer results than clusters read (those not selected).
   */
  async complianceResults(principal: Principal, ref: AssignmentRef, limit: number, continuation?: string): Promise<{ items: ClusterCompliance[]; continuation?: string }> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.find(ref);
    return evaluateCompliancePage(this.repo, found.record, limit, continuation);
  }
}

/** one page of the scope's clusters, evaluated: the results page and the summary walk share it */
export async function evaluateCompliancePage(
  repo: Persistence,
  assignment: AssignmentRecord,
  limit: number,
  continuation?: string,
): Promise<{ items: ClusterCompliance[]; continuation?: string }> {
  const page = await repo.clusters.pageDocuments(assignment.subscriptionId, assignment.resourceGroup, limit, continuation);
  return { items: await evaluateClusters(repo, assignment, page.items), continuation: page.continuation };
}

/** every page of the scope's clusters, evaluated (the summary walk) */
export async function* evaluateCompliance(repo: Persistence, assignment: AssignmentRecord, pageSize: number): AsyncGenerator<ClusterCompliance[]> {
  for await (const docs of repo.clusters.pages(assignment.subscriptionId, assignment.resourceGroup, pageSize)) yield evaluateClusters(repo, assignment, docs);
}

async function evaluateClusters(repo: Persistence, assignment: AssignmentRecord, docs: StoredDocument[]): Promise<ClusterCompliance[]> {
  const clusters: ClusterRecord[] = [];
  // a cluster whose record cannot be read is reported as such; it does not take the page down with it
  const unreadable: ClusterCompliance[] = [];
  for (const doc of docs) {
    try {
      const cluster = (await repo.clusters.decode(doc)).record;
      if (matches(assignment, cluster)) clusters.push(cluster);
    } catch {
      unreadable.push({ clusterId: storedClusterKey(doc.key), complianceState: "Failed", message: "The service could not read this cluster's record; the error is in its log." });
    }
  }
  // both Flux versions: a Flux v2 assignment reads its managed fluxConfigurations (and the v1 ones not migrated yet)
  const held = await readHeld(repo, assignment, clusters);
  const items = clusters.map((c) => complianceOf(assignment, c, held.get(keyOf(c.id)) ?? {}));
  return [...items, ...unreadable];
}
