/**
 * Source control configurations: synchronous create-or-replace, soft delete (a tombstone the cluster
 * agent will be told about), and the secrets sidecar that keeps protected settings and known_hosts
 * apart from the resource record.
 */
import crypto from "node:crypto";
import { checkDeleteConditions, checkPutConditions, hasConditions, type Conditions } from "../arm/etag.js";
import { errors } from "../arm/errors.js";
import { CONFIGURATION_TYPE, keyOf, type ClusterRef, type ConfigurationRef } from "../arm/resource-ids.js";
import { nextSystemData, type WriteActor } from "../arm/system-data.js";
import type { Principal } from "../ports/principal.js";
import type { Clock } from "../ports/clock.js";
import type { Clusters } from "./clusters.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Persistence, Versioned } from "../persistence/index.js";
import { announce, type ChangeBus } from "./changes.js";
import type { Subscriptions } from "./subscriptions.js";
import { PROTECTED_SETTING_KEYS, type ConfigurationRecord, type ConfigurationSecrets, type KeyVaultReferences, type KeyVaultResolution } from "./types.js";
import { validateConfigurationPut } from "./validation/configuration.js";
import { checkVaultTrust, NO_VAULTS, vaultPrincipalOf, type VaultAccessChecker } from "./keyvault-trust.js";

/** a configuration named by a path, parsed once at the surface (src/arm/resource-ids.ts) */
export type { ConfigurationRef } from "../arm/resource-ids.js";

/** a configuration as the surfaces see it: the record plus the known_hosts it may show */
export interface ConfigurationView {
  record: ConfigurationRecord;
  etag: string;
  sshKnownHostsContents?: string;
  /** for a configuration with Key Vault references: how they were last resolved (never a value) */
  keyVault?: KeyVaultResolution;
}

const INITIAL_MESSAGE = "The configuration was accepted; waiting for the cluster agent to apply it.";

export const EXPIRED_BEFORE_DELIVERY =
  "The protected settings expired before the cluster retrieved them (they are kept at most 48 hours). Submit them again with a PUT of this configuration, and bring the cluster online so its agent can fetch them.";

export const REPLACED_CONCURRENTLY =
  "The protected settings of this configuration were replaced by a concurrent request that did not complete. Submit them again with a PUT of this configuration.";

export const RESOLVING_MESSAGE = "The configuration was accepted; the service is reading its Key Vault secrets, then the cluster agent applies it.";
export const RESOLVED_MESSAGE = "The Key Vault secrets were read; waiting for the cluster agent to apply the configuration.";

/** whether the configuration takes its sensitive settings from Key Vault */
export function hasReferences(record: Pick<ConfigurationRecord, "spec">): boolean {
  return record.spec.keyVaultReferences !== undefined && Object.keys(record.spec.keyVaultReferences).length > 0;
}

/** protected settings or known_hosts a user submitted as values (not read from Key Vault by the service) */
export function hasSubmittedSecrets(record: ConfigurationRecord): boolean {
  return hasSecrets(record) && !hasReferences(record);
}

/**
 * The secrets a record with references points at: the settings named, and a version that is a digest
 * of the references, so every writer (a user's PUT, an assignment) names the same document for the same
 * references, and new references make the resolver read them again.
 */
export function referenceSecrets(refs: KeyVaultReferences): ConfigurationRecord["secrets"] {
  const canonical = Object.keys(refs)
    .sort()
    .map((k) => {
      const r = refs[k as keyof KeyVaultReferences];
      return [k, r?.keyVaultResourceId.toLowerCase(), r?.secretName.toLowerCase(), r?.secretVersion ?? ""];
    });
  return {
    protectedSettingKeys: PROTECTED_SETTING_KEYS.filter((k) => refs[k] !== undefined).sort(),
    hasKnownHosts: refs.sshKnownHostsContents !== undefined,
    version: `kv-${crypto.createHash("sha256").update(JSON.stringify(canonical)).digest("base64url").slice(0, 22)}`,
  };
}

/** whether the record was written with protected settings or known_hosts */
export function hasSecrets(record: ConfigurationRecord): boolean {
  return record.secrets.hasKnownHosts || record.secrets.protectedSettingKeys.length > 0;
}

/** the stored secrets, if they are the ones this record was written with */
export function secretsOf(record: ConfigurationRecord, stored: ConfigurationSecrets | undefined): ConfigurationSecrets | undefined {
  if (!stored) return undefined;
  return record.secrets.version === undefined || stored.version === record.secrets.version ? stored : undefined;
}

/** what stays of a deleted configuration until its agent reports it removed: a new generation, no secrets */
export function tombstoneOf(record: ConfigurationRecord): ConfigurationRecord {
  return { ...record, generation: record.generation + 1, provisioningState: "Deleting", secrets: { protectedSettingKeys: [], hasKnownHosts: false } };
}

export function expiredBeforeDelivery(): ConfigurationRecord["complianceStatus"] {
  return { complianceState: "Failed", message: EXPIRED_BEFORE_DELIVERY, messageLevel: "Error" };
}

export class Configurations {
  constructor(
    private readonly repo: Persistence,
    private readonly subscriptions: Subscriptions,
    private readonly clusters: Clusters,
    private readonly clock: Clock,
    private readonly bus: ChangeBus,
    /** tells this process's assignment reconciler that a cluster has work (a freed name, see delete) */
    private readonly wakeReconciler: () => void = () => undefined,
    /** who may have which vaults read for Key Vault references, and who to tell that references changed */
    private readonly keyVault: { access: VaultAccessChecker; wakeResolver: () => void } = { access: NO_VAULTS, wakeResolver: () => undefined },
  ) {}

  private notFound(ref: ConfigurationRef) {
    return errors.resourceNotFound(CONFIGURATION_TYPE, ref.configurationName, ref.resourceGroup);
  }

  /**
   * The resource as of now. Secrets past their retention are absent on every read path; when they
   * expired before the cluster acknowledged this generation's secrets, the configuration shows Failed
   * with what to do, until a PUT submits them again.
   */
  private present(found: Versioned<ConfigurationRecord>, stored: ConfigurationSecrets | undefined): ConfigurationView {
    const record = found.record;
    const hadSecrets = hasSecrets(record);
    const delivered = record.secretsDelivered?.generation === record.generation;
    const secrets = secretsOf(record, stored);
    if (hasReferences(record)) {
      // the service reads them again before they expire: an absent copy is being read, never "expired"
      const resolution = secrets?.keyVault;
      const reported = record.observedGeneration === record.generation;
      const waiting = !reported && record.complianceStatus.complianceState !== "Failed";
      const view: ConfigurationRecord =
        waiting && !resolution
          ? { ...record, complianceStatus: { complianceState: "Pending", message: RESOLVING_MESSAGE, messageLevel: "Information" } }
          : waiting && resolution?.state === "Resolved" && record.complianceStatus.message === RESOLVING_MESSAGE
            ? { ...record, complianceStatus: { complianceState: "Pending", message: RESOLVED_MESSAGE, messageLevel: "Information" } }
            : record;
      return { record: view, etag: found.etag, sshKnownHostsContents: undefined, ...(resolution ? { keyVault: resolution } : {}) };
    }
    if (hadSecrets && stored && !secrets) {
      return { record: { ...record, complianceStatus: { complianceState: "Failed", message: REPLACED_CONCURRENTLY, messageLevel: "Error" } }, etag: found.etag };
    }
    if (hadSecrets && !secrets && !delivered) {
      return { record: { ...record, complianceStatus: expiredBeforeDelivery() }, etag: found.etag };
    }
    return { record, etag: found.etag, sshKnownHostsContents: secrets?.sshKnownHostsContents };
  }

  async get(principal: Principal, ref: ConfigurationRef): Promise<ConfigurationView> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    // warm, both come from memory (kept exact by the bus): the configuration is this GET's one store read
    await this.clusters.requireExisting(clusterRef(ref));
    const found = await this.repo.configurations.get(ref.subscriptionId, ref.id);
    if (!found || found.deleted) throw this.notFound(ref);
    const secrets = hasSecrets(found.record) ? await this.repo.secrets.get(ref.subscriptionId, found.record.id) : undefined;
    return this.present(found, secrets?.record);
  }

  async list(principal: Principal, ref: ClusterRef, limit: number, continuation?: string) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const cluster = await this.clusters.require(ref);
    const page = await this.repo.configurations.page(ref.subscriptionId, cluster.record.id, limit, continuation);
    const withSecrets = page.items.filter((v) => hasSecrets(v.record)).map((v) => v.record.id);
    const secrets = await this.repo.secrets.getMany(ref.subscriptionId, withSecrets);
    const items = page.items.map((v) => this.present(v, secrets.get(keyOf(v.record.id))?.secrets));
    return { items, continuation: page.continuation };
  }

  async put(principal: Principal, ref: ConfigurationRef, body: Record<string, unknown>, conditions: Conditions, actor: WriteActor) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const properties = body.properties as Record<string, unknown> | undefined;
    // the caller's right to every vault it names, before the cluster or configuration is read and before anything is written
    const caller = vaultPrincipalOf(principal);
    await checkVaultTrust(this.keyVault.access, caller, ref.subscriptionId, properties?.keyVaultReferences, "properties");
    const cluster = await this.clusters.require(clusterRef(ref));
    // the id is spelled as the caller spelled this request (ARM ids are case-insensitive)
    const id = ref.id;
    // one attempt = one unit of work: the record, its secrets and their key, the marker commit together
    return withOptimisticRetry(hasConditions(conditions), () => this.repo.atomically(async () => {
      const existing = await this.repo.configurations.get(ref.subscriptionId, id);
      const live = existing && !existing.deleted ? existing : undefined;
      checkPutConditions(conditions, live?.etag);
      if (live) await this.refuseIfEnforced(ref, live.record, "change");
      // Azure's rule (issue #16): a cluster carries Flux v1 or Flux v2 configurations, not both
      else await refuseIfFluxV2(this.repo, ref);
      const validated = validateConfigurationPut({ name: ref.configurationName, properties, existing: live?.record });
      const secrets = validated.secrets;
      // the references are accepted for this caller: the resolver checks its right again before every read
      const spec = validated.spec.keyVaultReferences ? { ...validated.spec, keyVaultPrincipal: caller } : validated.spec;
      const references = spec.keyVaultReferences ? referenceSecrets(spec.keyVaultReferences) : undefined;
      // a PUT that loses the race for the record after writing its secrets must not lend them to the winner
      const secretsVersion = secrets ? crypto.randomUUID() : undefined;
      // the same references as before keep the copy read from the vault; new ones are read again (Pending)
      const sameReferences = references !== undefined && live !== undefined && live.record.secrets.version === references.version;
      const record: ConfigurationRecord = {
        id,
        name: ref.configurationName,
        clusterId: cluster.record.id,
        spec,
        generation: (existing?.record.generation ?? 0) + 1,
        repositoryPublicKey: live?.record.repositoryPublicKey,
        // a change allowed under DoNotEnforce leaves the configuration the assignment's: Default enforces it again
        ...(live?.record.managedBy !== undefined ? { managedBy: live.record.managedBy } : {}),
        provisioningState: "Succeeded",
        // new secrets restart the delivery: the state is Pending until the agent reports (this clears an expiry failure)
        complianceStatus:
          references && !sameReferences
            ? { complianceState: "Pending", message: RESOLVING_MESSAGE, messageLevel: "Information" }
            : live && !secrets
              ? live.record.complianceStatus
              : { complianceState: "Pending", message: INITIAL_MESSAGE, messageLevel: "Information" },
        secrets: references ?? {
          protectedSettingKeys: Object.keys(secrets?.protectedSettings ?? {}).sort(),
          hasKnownHosts: secrets?.sshKnownHostsContents !== undefined,
          ...(secretsVersion !== undefined ? { version: secretsVersion } : {}),
        },
        systemData: nextSystemData(live?.record.systemData, actor),
      };
      // seal everything before writing anything: a key-provider failure leaves nothing half-written
      const writeSecrets = secrets ? await this.repo.secrets.prepare(ref.subscriptionId, record, { ...secrets, submittedAt: this.clock.now(), version: secretsVersion }) : undefined;
      const writeRecord = await this.repo.configurations.prepare(ref.subscriptionId, record, existing?.etag);
      if (writeSecrets) await writeSecrets();
      const saved = await writeRecord();
      const hadSecrets = existing !== undefined && hasSecrets(existing.record);
      if (!secrets && hadSecrets && !sameReferences) await this.repo.secrets.delete(ref.subscriptionId, record.id);
      await announce(this.repo, this.bus, ref.subscriptionId, cluster.record.id, "configurations");
      if (references && !sameReferences) this.repo.afterCommit(this.keyVault.wakeResolver);
      return { created: live === undefined, view: { record, etag: saved.etag, sshKnownHostsContents: secrets?.sshKnownHostsContents } };
    }));
  }

  /**
   * A configuration an assignment manages changes only through the assignment, unless its
   * enforcementMode is DoNotEnforce (or the assignment is gone).
   */
  private async refuseIfEnforced(ref: ConfigurationRef, record: ConfigurationRecord, what: "change" | "delete"): Promise<void> {
    if (record.managedBy === undefined) return;
    const assignment = await this.repo.assignments.get(ref.subscriptionId, record.managedBy);
    if (!assignment) return;
    if (assignment.record.spec.enforcementMode === "DoNotEnforce" && assignment.record.deletion === undefined) return;
    throw errors.managedByAssignment(ref.configurationName, assignment.record.id, what);
  }

  /** 200 when it existed (a tombstone remains for the agent), 204 when not */
  async delete(principal: Principal, ref: ConfigurationRef, conditions: Conditions): Promise<boolean> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "delete");
    await this.clusters.require(clusterRef(ref));
    const id = ref.id;
    return withOptimisticRetry(hasConditions(conditions), () => this.repo.atomically(async () => {
      const existing = await this.repo.configurations.get(ref.subscriptionId, id);
      const live = existing && !existing.deleted ? existing : undefined;
      checkDeleteConditions(conditions, live?.etag);
      if (!live) return false;
      await this.refuseIfEnforced(ref, live.record, "delete");
      const writeTombstone = await this.repo.configurations.prepare(ref.subscriptionId, tombstoneOf(live.record), live.etag, true);
      await writeTombstone();
      await this.repo.secrets.delete(ref.subscriptionId, id);
      const cluster = ref.cluster.id;
      await announce(this.repo, this.bus, ref.subscriptionId, cluster, "configurations");
      // the name is free: an assignment that reported a clash here may now create its configuration
      await this.repo.outbox.touch(ref.subscriptionId, cluster);
      this.repo.afterCommit(this.wakeReconciler);
      return true;
    }));
  }
}

/**
 * A new Flux v1 configuration on a cluster that carries Flux v2 fluxConfigurations: 409. Otherwise the
 * cluster's Flux version is claimed in this unit of work (persistence/flux-versions.ts), so a concurrent
 * first fluxConfiguration on the same cluster cannot commit too.
 */
async function refuseIfFluxV2(repo: Persistence, ref: ConfigurationRef): Promise<void> {
  const conflict = await repo.fluxVersions.claim(ref.subscriptionId, ref.cluster.id, "v1");
  if (conflict !== undefined) throw errors.fluxVersionConflict("v1", ref.clusterName, conflict);
}

export function clusterRef(ref: ConfigurationRef): ClusterRef {
  return ref.cluster;
}
