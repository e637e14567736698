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
import { complianceOf, managedConfigurationId, matches, type ClusterCompliance } from "./assignment-rules.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Persistence, StoredDocument, Versioned } from "../persistence/index.js";
import type { Subscriptions } from "./subscriptions.js";
import type { AssignmentRecord, AssignmentSpec, AssignmentStatus, ClusterRecord } from "./types.js";
import { checkVaultTrust, NO_VAULTS, type VaultTrustPolicy } from "./keyvault-trust.js";
import { checkAssignmentName, requireProperties, validateAssignmentPut } from "./validation/assignment.js";

export const MAX_ASSIGNMENTS_PER_SUBSCRIPTION = 200;

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
    /** which vaults the configuration's Key Vault references may name */
    private readonly trust: VaultTrustPolicy = NO_VAULTS,
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
    const result = await withOptimisticRetry(hasConditions(conditions), async () => {
      const existing = await this.repo.assignments.get(ref.subscriptionId, id);
      checkPutConditions(conditions, existing?.etag);
      if (existing?.record.deletion) throw errors.assignmentDeleting(ref.name);
      if (!existing) await this.checkQuota(ref.subscriptionId);
      const spec = validateAssignmentPut({ name: ref.name, properties, existing: existing?.record });
      checkVaultTrust(this.trust, ref.subscriptionId, spec.configuration.keyVaultReferences, "properties.configuration");
      const status = existing ? await this.repo.assignments.getStatus(ref.subscriptionId, id) : undefined;
      // a PUT of a Failed assignment tries again, as ARM expects, even with the same spec
      const failed = status?.record.generation === existing?.record.generation && status?.record.state === "Completed" && (status.record.clustersFailed ?? 0) > 0;
      const changed = !existing || !sameSpec(existing.record.spec, spec) || failed;
      const record: AssignmentRecord = {
        id: existing?.record.id ?? id,
        name: existing?.record.name ?? ref.name,
        subscriptionId: ref.subscriptionId,
        ...(ref.resourceGroup !== undefined ? { resourceGroup: ref.resourceGroup } : {}),
        spec,
        // an unchanged spec is no new rollout: a repeated PUT is idempotent
        generation: (existing?.record.generation ?? 0) + (changed ? 1 : 0),
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

  /** the deletion named by `operationId`: still removing configurations, finished, or unknown (404) */
  async deletionState(principal: Principal, ref: AssignmentRef, operationId: string): Promise<"running" | "finished"> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.repo.assignments.get(ref.subscriptionId, this.id(ref));
    if (found?.record.deletion?.operationId.toLowerCase() === operationId.toLowerCase()) return "running";
    if (await this.repo.operations.isFinished(ref.subscriptionId, operationId, this.id(ref))) return "finished";
    throw errors.operationNotFound(operationId);
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
  const configurations = await repo.configurations.getMany(assignment.subscriptionId, clusters.map((c) => managedConfigurationId(assignment, c)));
  const items = clusters.map((c) => complianceOf(assignment, c, configurations.get(keyOf(managedConfigurationId(assignment, c)))?.record));
  return [...items, ...unreadable];
}
