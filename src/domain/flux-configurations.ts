/**
 * Flux v2 fluxConfigurations (issue #16): create-or-replace, merge-patch, asynchronous delete (a
 * tombstone until the cluster's agent reports the objects removed; `forceDelete` removes at once), the
 * operation status of each write, the secrets sidecar (sealed, kept at most 48 hours: the same
 * `configurationSecrets` documents as v1, under the fluxConfiguration's id), the agent's status reports
 * (compliance per generation), and Azure's rule that a cluster carries Flux v1 or Flux v2, not both.
 *
 * For the v1 -> v2 migration (issue #16 part 2): `stageMigrated` writes a fluxConfiguration inside the
 * caller's unit of work (Persistence.atomically) past the one-version rule, so that retiring the v1
 * configuration and creating the v2 one commit together, as ONE desired-state version (the cluster's
 * marker is incremented once per unit of work).
 */
import crypto from "node:crypto";
import { checkDeleteConditions, checkPutConditions, hasConditions, type Conditions } from "../arm/etag.js";
import { errors } from "../arm/errors.js";
import { FLUX_CONFIGURATION_TYPE, fluxConfigurationId, keyOf, type ClusterRef, type FluxConfigurationRef } from "../arm/resource-ids.js";
import { nextSystemData, type WriteActor } from "../arm/system-data.js";
import type { Clock } from "../ports/clock.js";
import type { Principal } from "../ports/principal.js";
import type { Persistence, Versioned } from "../persistence/index.js";
import { announce, type ChangeBus } from "./changes.js";
import type { Clusters } from "./clusters.js";
import { EXPIRED_BEFORE_DELIVERY, REPLACED_CONCURRENTLY } from "./configurations.js";
import { withOptimisticRetry } from "./optimistic.js";
import { silentAudit, type PurgeAudit } from "./purge-audit.js";
import type { Subscriptions } from "./subscriptions.js";
import {
  FLUX_COMPLIANCE_STATES,
  type ConfigurationSecrets,
  type FluxComplianceReport,
  type FluxConfigurationRecord,
} from "./types.js";
import type { FluxStatusReport } from "../contract/agent-api.js";
import { mergeFluxPatch, validateFluxConfiguration } from "./validation/flux-configuration.js";
import { parsePublicKey } from "./validation/ssh-keys.js";

export type { FluxConfigurationRef } from "../arm/resource-ids.js";
export type { FluxStatusReport };

/** a fluxConfiguration as the surfaces see it: the record plus the known_hosts it may show while kept */
export interface FluxConfigurationView {
  record: FluxConfigurationRecord;
  etag: string;
  sshKnownHosts?: string;
}

/** what an operation status answers (the official OperationStatusResult) */
export interface FluxOperationStatus {
  id: string;
  name: string;
  status: "Succeeded" | "Failed" | "Deleting" | "InProgress";
  error?: { code: string; message: string };
}

/** a finished operation's id still answers for this long */
const OPERATION_MEMORY_MS = 86_400_000;

/**
 * `waitForReconciliation`: how long a write's operation waits for the cluster when the configuration
 * names no `reconciliationWaitDuration` (this service's choice: the official document states no default),
 * and the longest wait honoured (a finished operation is remembered a day).
 */
export const DEFAULT_RECONCILIATION_WAIT_MS = 10 * 60_000;
export const MAX_RECONCILIATION_WAIT_MS = OPERATION_MEMORY_MS;

/** an ISO 8601 duration as the validator accepts it (PnDTnHnMnS) in ms; undefined when absent or not that form */
export function isoDurationMs(duration: string | undefined): number | undefined {
  const m = duration === undefined ? null : /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!m) return undefined;
  const [d, h, min, sec] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [number, number, number, number];
  return (((d * 24 + h) * 60 + min) * 60 + sec) * 1000;
}

/** how long this configuration's writes wait for the cluster to reconcile */
export function reconciliationWaitMs(spec: FluxConfigurationRecord["spec"]): number {
  return Math.min(isoDurationMs(spec.reconciliationWaitDuration) ?? DEFAULT_RECONCILIATION_WAIT_MS, MAX_RECONCILIATION_WAIT_MS);
}

export type ReconciliationOutcome = { status: "InProgress" } | { status: "Succeeded" } | { status: "Failed"; error: { code: string; message: string } };

/**
 * The write operation of a configuration with `waitForReconciliation: true`, as of `now` (undefined: this
 * write does not wait). Derived from the stored record alone - the agent's report of this generation and
 * the operation's start - so no request is held open, no timer runs, and every replica answers the same:
 * InProgress until the agent reports THIS generation Compliant (Succeeded) or Non-Compliant (Failed,
 * `ReconciliationFailed`) - settled on the record by that report (settleWait) - or until the wait passes
 * without either (Failed, `ReconciliationTimedOut`; the configuration stays and the agent keeps applying
 * it). A suspended configuration has nothing to wait for.
 */
export function reconciliationOutcome(record: FluxConfigurationRecord, now: number): ReconciliationOutcome | undefined {
  if (!waitsForReconciliation(record)) return undefined;
  const settled = record.operation.settled;
  if (settled) return settled.status === "Failed" ? { status: "Failed", error: settled.error ?? { code: "ReconciliationFailed", message: "The cluster did not reconcile the configuration." } } : { status: "Succeeded" };
  if (now >= reconciliationDeadline(record)) {
    return {
      status: "Failed",
      error: {
        code: "ReconciliationTimedOut",
        message: `The cluster did not report generation ${record.generation} of the fluxConfiguration '${record.name}' reconciled within ${record.spec.reconciliationWaitDuration ?? "PT10M"}. The configuration stays in place and the cluster's agent keeps applying it; its complianceState shows where it is.`,
      },
    };
  }
  return { status: "InProgress" };
}

/** whether this write's operation waits for the cluster */
const waitsForReconciliation = (record: FluxConfigurationRecord): boolean =>
  record.spec.waitForReconciliation === true && !record.spec.suspend && record.operation.kind !== "delete";

const reconciliationDeadline = (record: FluxConfigurationRecord): number => Date.parse(record.operation.startedAt) + reconciliationWaitMs(record.spec);

/**
 * The agent's report of the record's generation settles a waiting operation, once: Compliant ->
 * Succeeded, Non-Compliant -> Failed (`ReconciliationFailed`); only within the wait (after it, the
 * operation has timed out for good) and only the first conclusive report (a later drift does not
 * rewrite how the write ended). Pending, Unknown: still waiting.
 */
function settleWait(record: FluxConfigurationRecord, report: FluxComplianceReport, now: number): FluxConfigurationRecord["operation"] {
  const op = record.operation;
  if (!waitsForReconciliation(record) || op.settled || now >= reconciliationDeadline(record)) return op;
  const at = new Date(now).toISOString();
  if (report.complianceState === "Compliant") return { ...op, settled: { status: "Succeeded", at } };
  if (report.complianceState !== "Non-Compliant") return op;
  const why = report.errorMessage !== undefined ? `: ${report.errorMessage.slice(0, 1024)}` : ".";
  return { ...op, settled: { status: "Failed", at, error: { code: "ReconciliationFailed", message: `The cluster reported generation ${record.generation} of the fluxConfiguration '${record.name}' Non-Compliant${why}` } } };
}

/** the resource as a waiting write shows it: Creating/Updating while it waits, Failed when the wait failed */
function withReconciliationWait(view: FluxConfigurationView, now: number): FluxConfigurationView {
  const outcome = reconciliationOutcome(view.record, now);
  if (!outcome || outcome.status === "Succeeded" || view.record.provisioningState === "Failed") return view;
  if (outcome.status === "InProgress") return { ...view, record: { ...view.record, provisioningState: view.record.operation.kind === "create" ? "Creating" : "Updating" } };
  return { ...view, record: { ...view.record, provisioningState: "Failed", compliance: { ...view.record.compliance, errorMessage: view.record.compliance.errorMessage ?? outcome.error.message } } };
}

export const FLUX_INITIAL_MESSAGE = "The configuration was accepted; waiting for the cluster agent to apply it.";

/** whether the record was written with protected settings or known_hosts */
export const fluxHasSecrets = (record: FluxConfigurationRecord): boolean => record.secrets.hasKnownHosts || record.secrets.protectedSettingKeys.length > 0;

/** the stored secrets, if they are the ones this record was written with */
export function fluxSecretsOf(record: FluxConfigurationRecord, stored: ConfigurationSecrets | undefined): ConfigurationSecrets | undefined {
  if (!stored) return undefined;
  return record.secrets.version === undefined || stored.version === record.secrets.version ? stored : undefined;
}

/** a deleted fluxConfiguration until its agent reports it removed: a new generation, no secrets */
export function fluxTombstoneOf(record: FluxConfigurationRecord, operation: FluxConfigurationRecord["operation"]): FluxConfigurationRecord {
  return { ...record, generation: record.generation + 1, provisioningState: "Deleting", secrets: { protectedSettingKeys: [], hasKnownHosts: false }, operation };
}

/** a v2 configuration whose secrets expired before the cluster acknowledged them */
export function fluxExpiredBeforeDelivery(record: FluxConfigurationRecord): FluxConfigurationRecord {
  return { ...record, provisioningState: "Failed", compliance: { ...record.compliance, errorMessage: EXPIRED_BEFORE_DELIVERY } };
}

/** secrets expired before this generation reached the cluster (the sweeper marks these Failed) */
export const fluxUndelivered = (found: Versioned<FluxConfigurationRecord> | undefined): found is Versioned<FluxConfigurationRecord> =>
  found !== undefined && !found.deleted && fluxHasSecrets(found.record) && found.record.secretsDelivered?.generation !== found.record.generation && found.record.provisioningState !== "Failed";

/** the properties the current resource shows, as a PATCH merges over them */
function currentProperties(view: FluxConfigurationView): Record<string, unknown> {
  const s = view.record.spec;
  return {
    scope: s.scope,
    namespace: s.namespace,
    sourceKind: s.sourceKind,
    suspend: s.suspend,
    gitRepository: { ...s.gitRepository, ...(view.sshKnownHosts !== undefined ? { sshKnownHosts: view.sshKnownHosts } : {}) },
    kustomizations: s.kustomizations,
    ...(s.waitForReconciliation !== undefined ? { waitForReconciliation: s.waitForReconciliation } : {}),
    ...(s.reconciliationWaitDuration !== undefined ? { reconciliationWaitDuration: s.reconciliationWaitDuration } : {}),
  };
}

export type FluxStatusOutcome = { accepted: true } | { accepted: false; reason: "stale" | "tombstone" };

/** what a write stages (the public PUT, the PATCH and the migration share it) */
interface FluxWrite {
  ref: FluxConfigurationRef;
  properties: Record<string, unknown> | undefined;
  actor: WriteActor;
  conditions: Conditions;
  /** the secrets kept as they are when the write names none (a PATCH without configurationProtectedSettings) */
  keepSecrets: boolean;
  /** the migration: the Flux v1 configurations may remain (the caller retires them in the same unit) */
  bypassVersionRule: boolean;
  /** the migration carries v1 protected settings over with their original submission time (48 hours from then) */
  secretsSubmittedAt?: number;
}

export class FluxConfigurations {
  constructor(
    private readonly repo: Persistence,
    private readonly subscriptions: Subscriptions,
    private readonly clusters: Clusters,
    private readonly clock: Clock,
    private readonly bus: ChangeBus,
    /** as v1 (AgentReports): purge protected settings once the agent acknowledges them, instead of at the end of the window */
    private readonly retention: { purgeAfterDelivery: boolean; audit: PurgeAudit } = { purgeAfterDelivery: false, audit: silentAudit },
  ) {}

  private notFound(ref: FluxConfigurationRef) {
    return errors.resourceNotFound(FLUX_CONFIGURATION_TYPE, ref.name, ref.resourceGroup);
  }

  /** the resource as of now: secrets past their retention are absent; expired before delivery shows Failed */
  private present(found: Versioned<FluxConfigurationRecord>, stored: ConfigurationSecrets | undefined): FluxConfigurationView {
    return withReconciliationWait(this.presentSecrets(found, stored), this.clock.now());
  }

  private presentSecrets(found: Versioned<FluxConfigurationRecord>, stored: ConfigurationSecrets | undefined): FluxConfigurationView {
    const record = found.record;
    const had = fluxHasSecrets(record);
    const secrets = fluxSecretsOf(record, stored);
    if (had && stored && !secrets) return { record: { ...record, provisioningState: "Failed", compliance: { ...record.compliance, errorMessage: REPLACED_CONCURRENTLY } }, etag: found.etag };
    if (had && !secrets && record.secretsDelivered?.generation !== record.generation) return { record: fluxExpiredBeforeDelivery(record), etag: found.etag };
    return { record, etag: found.etag, ...(secrets?.sshKnownHostsContents !== undefined ? { sshKnownHosts: secrets.sshKnownHostsContents } : {}) };
  }

  private async view(subscriptionId: string, found: Versioned<FluxConfigurationRecord>): Promise<FluxConfigurationView> {
    const secrets = fluxHasSecrets(found.record) ? await this.repo.secrets.get(subscriptionId, found.record.id) : undefined;
    return this.present(found, secrets?.record);
  }

  async get(principal: Principal, ref: FluxConfigurationRef): Promise<FluxConfigurationView> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    await this.clusters.requireExisting(ref.cluster);
    const found = await this.repo.fluxConfigurations.get(ref.subscriptionId, ref.id);
    if (!found || found.deleted) throw this.notFound(ref);
    return this.view(ref.subscriptionId, found);
  }

  async list(principal: Principal, ref: ClusterRef, limit: number, continuation?: string) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const cluster = await this.clusters.require(ref);
    const page = await this.repo.fluxConfigurations.page(ref.subscriptionId, cluster.record.id, limit, continuation);
    const withSecrets = page.items.filter((v) => fluxHasSecrets(v.record)).map((v) => v.record.id);
    const secrets = await this.repo.secrets.getMany(ref.subscriptionId, withSecrets);
    return { items: page.items.map((v) => this.present(v, secrets.get(keyOf(v.record.id))?.secrets)), continuation: page.continuation };
  }

  /** PUT: 201 when created, 200 when replaced; the operation (already finished) is record.operation */
  async put(principal: Principal, ref: FluxConfigurationRef, body: Record<string, unknown>, conditions: Conditions, actor: WriteActor) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const properties = body.properties as Record<string, unknown> | undefined;
    return withOptimisticRetry(hasConditions(conditions), () =>
      this.repo.atomically(() => this.write({ ref, properties, actor, conditions, keepSecrets: false, bypassVersionRule: false })),
    );
  }

  /** PATCH: the body merged over the current properties, validated as the PUT it amounts to */
  async patch(principal: Principal, ref: FluxConfigurationRef, body: Record<string, unknown>, conditions: Conditions, actor: WriteActor): Promise<FluxConfigurationView> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const patch = (body.properties as Record<string, unknown> | undefined) ?? {};
    return withOptimisticRetry(hasConditions(conditions), () =>
      this.repo.atomically(async () => {
        const found = await this.repo.fluxConfigurations.get(ref.subscriptionId, ref.id);
        if (!found || found.deleted) throw this.notFound(ref);
        checkPutConditions({ ...conditions, ifNoneMatch: undefined }, found.etag);
        const current = await this.view(ref.subscriptionId, found);
        const merged = mergeFluxPatch(currentProperties(current), patch);
        // the protected settings are write-only: a PATCH naming none keeps those kept
        const keepSecrets = !("configurationProtectedSettings" in patch);
        const out = await this.write({ ref, properties: merged, actor, conditions: {}, keepSecrets, bypassVersionRule: false });
        return out.view;
      }),
    );
  }

  /**
   * The migration's hook (issue #16 part 2): creates or replaces the fluxConfiguration `ref` from
   * `properties` (a fluxConfiguration PUT's properties) inside the caller's unit of work, past the
   * one-Flux-version rule, protected settings kept from `secretsSubmittedAt` (the v1 PUT's time: the
   * 48-hour clock does not restart). Must run inside `Persistence.atomically`; the caller authorizes,
   * retires the v1 configuration in the same unit, and retries the unit on a lost race. The cluster's
   * desired-state marker is incremented once for the whole unit: the agent sees both changes in one version.
   */
  async stageMigrated(ref: FluxConfigurationRef, properties: Record<string, unknown>, actor: WriteActor, secretsSubmittedAt?: number): Promise<{ created: boolean; view: FluxConfigurationView }> {
    return this.write({ ref, properties, actor, conditions: {}, keepSecrets: false, bypassVersionRule: true, ...(secretsSubmittedAt !== undefined ? { secretsSubmittedAt } : {}) });
  }

  /** a fluxConfiguration a Flux v2 assignment manages changes only through it, unless DoNotEnforce (or the assignment is gone): as v1 */
  private async refuseIfManaged(ref: FluxConfigurationRef, record: FluxConfigurationRecord, what: "change" | "delete"): Promise<void> {
    if (record.managedBy === undefined) return;
    const assignment = await this.repo.assignments.get(ref.subscriptionId, record.managedBy);
    if (!assignment || (assignment.record.spec.enforcementMode === "DoNotEnforce" && assignment.record.deletion === undefined)) return;
    throw errors.managedByAssignment(ref.name, assignment.record.id, what);
  }

  /**
   * Azure's rule: a cluster carries Flux v1 or Flux v2 configurations, not both. A first write (`live`
   * false) claims the cluster's Flux version in this unit of work (persistence/flux-versions.ts: a
   * concurrent first v1 configuration cannot commit too); the migration (`allowMixed`) claims it past the
   * rule. A replace of a live fluxConfiguration only checks.
   */
  async refuseIfFluxV1(ref: ClusterRef, live: boolean, allowMixed = false): Promise<void> {
    const conflict = live ? (allowMixed ? undefined : await this.repo.fluxVersions.check(ref.subscriptionId, ref.id, "v2")) : await this.repo.fluxVersions.claim(ref.subscriptionId, ref.id, "v2", allowMixed);
    if (conflict !== undefined) throw errors.fluxVersionConflict("v2", ref.name, conflict);
  }

  private operation(kind: FluxConfigurationRecord["operation"]["kind"]): FluxConfigurationRecord["operation"] {
    return { id: crypto.randomUUID(), kind, startedAt: new Date(this.clock.now()).toISOString() };
  }

  /** the previous write's operation stays answerable for a day after this one replaces it */
  private async rememberFinished(ref: FluxConfigurationRef, previous: FluxConfigurationRecord | undefined): Promise<void> {
    if (previous) await this.repo.operations.recordFinished(ref.subscriptionId, previous.operation.id, ref.id, this.clock.now() + OPERATION_MEMORY_MS);
  }

  private async write(w: FluxWrite): Promise<{ created: boolean; view: FluxConfigurationView }> {
    const { ref } = w;
    const cluster = await this.clusters.require(ref.cluster);
    const id = fluxConfigurationId(cluster.record.id, ref.name);
    const existing = await this.repo.fluxConfigurations.get(ref.subscriptionId, ref.id);
    const live = existing && !existing.deleted ? existing : undefined;
    checkPutConditions(w.conditions, live?.etag);
    if (live) await this.refuseIfManaged(ref, live.record, "change");
    await this.refuseIfFluxV1(ref.cluster, live !== undefined, w.bypassVersionRule);
    const validated = validateFluxConfiguration({ name: ref.name, properties: w.properties, ...(live ? { existing: live.record } : {}) });
    // a PATCH naming no protected settings keeps the kept ones (known_hosts comes back through the merge)
    let secrets: ConfigurationSecrets | undefined;
    let submittedAt = w.secretsSubmittedAt ?? this.clock.now();
    let keptSecrets = false;
    /** a PATCH after the secrets expired undelivered: the record keeps saying so (Failed) until a write submits them */
    let expiredKept = false;
    if (w.keepSecrets && live && fluxHasSecrets(live.record)) {
      const stored = fluxSecretsOf(live.record, (await this.repo.secrets.get(ref.subscriptionId, live.record.id))?.record);
      expiredKept = stored === undefined;
      if (stored && (Object.keys(stored.protectedSettings).length > 0 || stored.sshKnownHostsContents !== undefined)) {
        const sameKnownHosts = stored.sshKnownHostsContents === validated.secrets?.sshKnownHostsContents;
        if (sameKnownHosts) keptSecrets = true;
        else submittedAt = stored.submittedAt;
        secrets = { protectedSettings: stored.protectedSettings, ...(validated.secrets?.sshKnownHostsContents !== undefined ? { sshKnownHostsContents: validated.secrets.sshKnownHostsContents } : {}), submittedAt };
      }
    }
    if (!secrets && validated.secrets) secrets = { ...validated.secrets, submittedAt };
    if (secrets && Object.keys(secrets.protectedSettings).length === 0 && secrets.sshKnownHostsContents === undefined) secrets = undefined;
    if (!secrets) keptSecrets = false;
    const changedSecrets = secrets !== undefined && !keptSecrets;
    const secretsVersion = changedSecrets ? crypto.randomUUID() : keptSecrets ? live?.record.secrets.version : undefined;
    const written: FluxConfigurationRecord = {
      id: live?.record.id ?? id,
      name: ref.name,
      clusterId: cluster.record.id,
      spec: validated.spec,
      generation: (existing?.record.generation ?? 0) + 1,
      provisioningState: "Succeeded",
      // a change restarts convergence: Pending until the agent reports this generation
      compliance: { complianceState: validated.spec.suspend ? "Suspended" : "Pending", statuses: live?.record.compliance.statuses ?? [], ...carried(live?.record.compliance) },
      ...(live?.record.repositoryPublicKey !== undefined ? { repositoryPublicKey: live.record.repositoryPublicKey } : {}),
      secrets:
        expiredKept && !secrets && live
          ? live.record.secrets
          : {
              protectedSettingKeys: Object.keys(secrets?.protectedSettings ?? {}).sort(),
              hasKnownHosts: secrets?.sshKnownHostsContents !== undefined,
              ...(secretsVersion !== undefined ? { version: secretsVersion } : {}),
            },
      ...((keptSecrets || (expiredKept && !secrets)) && live?.record.secretsDelivered ? { secretsDelivered: live.record.secretsDelivered } : {}),
      operation: this.operation(live ? "update" : "create"),
      // a change allowed under DoNotEnforce leaves it the assignment's (as for v1): Default enforces it again
      ...(live?.record.managedBy !== undefined ? { managedBy: live.record.managedBy } : {}),
      systemData: nextSystemData(live?.record.systemData, w.actor),
    };
    // the kept secrets expired before this generation could carry them: Failed, saying to submit them again
    const record = expiredKept && !secrets ? fluxExpiredBeforeDelivery(written) : written;
    // seal everything before writing anything: a key-provider failure leaves nothing half-written
    const writeSecrets = changedSecrets && secrets ? await this.repo.secrets.prepare(ref.subscriptionId, record, { ...secrets, version: secretsVersion }) : undefined;
    const writeRecord = await this.repo.fluxConfigurations.prepare(ref.subscriptionId, record, existing?.etag);
    if (writeSecrets) await writeSecrets();
    const saved = await writeRecord();
    if (!secrets && !expiredKept && live && fluxHasSecrets(live.record)) await this.repo.secrets.delete(ref.subscriptionId, record.id);
    await this.rememberFinished(ref, existing?.record);
    await announce(this.repo, this.bus, ref.subscriptionId, cluster.record.id, "configurations");
    const view = { record, etag: saved.etag, ...(secrets?.sshKnownHostsContents !== undefined ? { sshKnownHosts: secrets.sshKnownHostsContents } : {}) };
    return { created: live === undefined, view: withReconciliationWait(view, this.clock.now()) };
  }

  /**
   * DELETE. Without `force`, a tombstone tells the agent to remove the Flux objects; the operation runs
   * ("Deleting") until the agent reports them removed. With `force`, the resource (and its secrets) go at
   * once, as Azure's forceDelete: the agent prunes what it no longer finds. `absent`: nothing to delete (204).
   */
  async delete(principal: Principal, ref: FluxConfigurationRef, conditions: Conditions, force: boolean): Promise<{ state: "absent" } | { state: "deleted" } | { state: "deleting"; operationId: string }> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "delete");
    await this.clusters.require(ref.cluster);
    return withOptimisticRetry(hasConditions(conditions), () =>
      this.repo.atomically(async () => {
        const existing = await this.repo.fluxConfigurations.get(ref.subscriptionId, ref.id);
        const live = existing && !existing.deleted ? existing : undefined;
        checkDeleteConditions(conditions, live?.etag);
        if (live) await this.refuseIfManaged(ref, live.record, "delete");
        if (!existing) return { state: "absent" as const };
        if (!live && !force) return { state: "deleting" as const, operationId: existing.record.operation.id };
        await this.repo.secrets.delete(ref.subscriptionId, existing.record.id);
        await this.rememberFinished(ref, existing.record);
        await announce(this.repo, this.bus, ref.subscriptionId, ref.cluster.id, "configurations");
        if (force) {
          await this.repo.fluxConfigurations.remove(ref.subscriptionId, existing.record.id, existing.etag);
          return live ? { state: "deleted" as const } : { state: "absent" as const };
        }
        const operation = this.operation("delete");
        const write = await this.repo.fluxConfigurations.prepare(ref.subscriptionId, fluxTombstoneOf(existing.record, operation), existing.etag, true);
        await write();
        return { state: "deleting" as const, operationId: operation.id };
      }),
    );
  }

  /** GET .../fluxConfigurations/{name}/operations/{operationId} */
  async operationStatus(principal: Principal, ref: FluxConfigurationRef, operationId: string): Promise<FluxOperationStatus> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.repo.fluxConfigurations.get(ref.subscriptionId, ref.id);
    const statusId = `${ref.id}/operations/${operationId}`;
    if (found && found.record.operation.id.toLowerCase() === operationId.toLowerCase()) {
      if (found.deleted) return { id: statusId, name: operationId, status: "Deleting" };
      // waitForReconciliation: the write's operation runs until the cluster reports this generation (or the wait passes)
      const outcome = reconciliationOutcome(found.record, this.clock.now());
      if (outcome?.status === "Failed") return { id: statusId, name: operationId, status: "Failed", error: outcome.error };
      return { id: statusId, name: operationId, status: outcome?.status ?? "Succeeded" };
    }
    if (await this.repo.operations.isFinished(ref.subscriptionId, operationId, ref.id)) return { id: statusId, name: operationId, status: "Succeeded" };
    throw errors.operationNotFound(operationId);
  }

  /**
   * The agent's report about one fluxConfiguration: the compliance of the generation it applied; for a
   * tombstone, that the Flux objects were removed (the tombstone then goes, and the delete operation succeeds).
   */
  async report(ref: ClusterRef, name: string, report: FluxStatusReport): Promise<FluxStatusOutcome> {
    if (!(FLUX_COMPLIANCE_STATES as readonly string[]).includes(report.complianceState)) throw errors.invalidParameter("complianceState", `'complianceState' must be one of ${FLUX_COMPLIANCE_STATES.join(", ")}.`);
    if (report.repositoryPublicKey !== undefined && report.repositoryPublicKey !== "") {
      const parsed = parsePublicKey(report.repositoryPublicKey);
      if (!parsed.ok) throw errors.invalidParameter("repositoryPublicKey", `'repositoryPublicKey' is not an SSH public key: ${parsed.reason}.`);
    }
    const id = fluxConfigurationId(ref.id, name);
    return withOptimisticRetry(false, () =>
      this.repo.atomically(async () => {
        const found = await this.repo.fluxConfigurations.get(ref.subscriptionId, id);
        if (!found) throw errors.resourceNotFound(FLUX_CONFIGURATION_TYPE, name, ref.resourceGroup);
        const record = found.record;
        if (report.observedGeneration > record.generation) {
          throw errors.invalidParameter("observedGeneration", `observedGeneration ${report.observedGeneration} is newer than the configuration's generation ${record.generation}.`);
        }
        if (report.observedGeneration < record.generation) return { accepted: false as const, reason: "stale" as const };
        if (report.removed === true && !found.deleted) throw errors.invalidParameter("removed", `'removed' is true, but the fluxConfiguration '${name}' has not been deleted.`);
        if (found.deleted) {
          if (!report.removed) return { accepted: false as const, reason: "tombstone" as const };
          await this.repo.fluxConfigurations.remove(ref.subscriptionId, id, found.etag);
          await this.repo.operations.recordFinished(ref.subscriptionId, record.operation.id, id, this.clock.now() + OPERATION_MEMORY_MS);
          await announce(this.repo, this.bus, ref.subscriptionId, ref.id, "configurations");
          return { accepted: true as const };
        }
        const now = new Date(this.clock.now()).toISOString();
        const delivered = report.protectedSettingsReceived === true && fluxHasSecrets(record);
        const compliance: FluxComplianceReport = {
          complianceState: report.complianceState,
          statuses: (report.statuses ?? []).slice(0, 100),
          ...(report.sourceSyncedCommitId !== undefined ? { sourceSyncedCommitId: report.sourceSyncedCommitId } : {}),
          ...(report.sourceUpdatedAt !== undefined ? { sourceUpdatedAt: new Date(report.sourceUpdatedAt).toISOString() } : {}),
          statusUpdatedAt: now,
          ...(report.errorMessage !== undefined ? { errorMessage: report.errorMessage } : {}),
        };
        const updated: FluxConfigurationRecord = {
          ...record,
          observedGeneration: record.generation,
          compliance,
          operation: settleWait(record, compliance, this.clock.now()),
          provisioningState: report.errorMessage !== undefined && report.complianceState === "Non-Compliant" ? "Failed" : "Succeeded",
          ...(report.repositoryPublicKey !== undefined ? { repositoryPublicKey: report.repositoryPublicKey } : {}),
          ...(delivered ? { secretsDelivered: { generation: record.generation, at: now } } : {}),
        };
        await this.repo.fluxConfigurations.write(ref.subscriptionId, updated, found.etag);
        if (delivered && this.retention.purgeAfterDelivery && (await this.repo.secrets.delete(ref.subscriptionId, id))) {
          const kinds = [...record.secrets.protectedSettingKeys, ...(record.secrets.hasKnownHosts ? ["sshKnownHosts"] : [])];
          this.repo.afterCommit(() => this.retention.audit.purged(id, kinds, "delivered"));
          await announce(this.repo, this.bus, ref.subscriptionId, ref.id, "configurations");
        }
        return { accepted: true as const };
      }),
    );
  }
}

/** what a rewrite keeps of the last report until the agent reports the new generation */
function carried(previous: FluxComplianceReport | undefined): Partial<FluxComplianceReport> {
  if (!previous) return {};
  return {
    ...(previous.sourceSyncedCommitId !== undefined ? { sourceSyncedCommitId: previous.sourceSyncedCommitId } : {}),
    ...(previous.sourceUpdatedAt !== undefined ? { sourceUpdatedAt: previous.sourceUpdatedAt } : {}),
    ...(previous.statusUpdatedAt !== undefined ? { statusUpdatedAt: previous.statusUpdatedAt } : {}),
  };
}
