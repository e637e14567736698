/**
 * What cluster agents report: per configuration, the generation they applied and how it went (it
 * becomes the resource's complianceStatus, repositoryPublicKey and provisioningState); for a tombstone,
 * that it was removed (the tombstone then disappears); and heartbeats (the cluster's agent-reported
 * properties, connectivity). A report about an older generation never overwrites a newer state.
 */
import { errors } from "../arm/errors.js";
import { configurationId, CONFIGURATION_TYPE } from "../arm/resource-ids.js";
import type { Clock } from "../ports/clock.js";
import { announce, type ChangeBus } from "./changes.js";
import { hasReferences, hasSecrets } from "./configurations.js";
import { SECRET_REFERENCE_SETTINGS, type SecretReferenceSetting } from "./types.js";

/** the reported versions of the settings the configuration references (anything else the agent says is dropped) */
function appliedVersions(record: ConfigurationRecord, reported: Record<string, string>): Partial<Record<SecretReferenceSetting, string>> {
  const out: Partial<Record<SecretReferenceSetting, string>> = {};
  for (const k of SECRET_REFERENCE_SETTINGS) {
    const v = reported[k];
    if (record.spec.keyVaultReferences?.[k] && typeof v === "string") out[k] = v.toLowerCase();
  }
  return out;
}
import type { ClusterRef } from "./clusters.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Persistence } from "../persistence/index.js";
import { silentAudit, type PurgeAudit } from "./purge-audit.js";
import type { ConfigurationRecord } from "./types.js";
import type { Heartbeat, StatusReport } from "../contract/agent-api.js";
export type { Heartbeat, StatusReport };
import { parsePublicKey } from "./validation/ssh-keys.js";

/** the names of what a configuration's secrets held (for audit lines: names only) */
export function valueKinds(record: ConfigurationRecord): string[] {
  return [...record.secrets.protectedSettingKeys, ...(record.secrets.hasKnownHosts ? ["sshKnownHostsContents"] : [])];
}

export type StatusOutcome = { accepted: true } | { accepted: false; reason: "stale" | "tombstone" };

export interface AgentReportOptions {
  /** purge protected settings as soon as the agent acknowledges them, instead of at the end of the window */
  purgeAfterDelivery: boolean;
  audit: PurgeAudit;
}

/** what a report may say before anything is looked up: the deploy key is shown to ARM users as is, so it must be one */
function checkReport(report: StatusReport): void {
  if (report.repositoryPublicKey !== undefined && report.repositoryPublicKey !== "") {
    const parsed = parsePublicKey(report.repositoryPublicKey);
    if (!parsed.ok) throw errors.invalidParameter("repositoryPublicKey", `'repositoryPublicKey' is not an SSH public key: ${parsed.reason}.`);
  }
}

export class AgentReports {
  constructor(
    private readonly repo: Persistence,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    private readonly options: AgentReportOptions = { purgeAfterDelivery: false, audit: silentAudit },
  ) {}

  async status(ref: ClusterRef, name: string, report: StatusReport): Promise<StatusOutcome> {
    checkReport(report);
    const cluster = ref.id;
    const id = configurationId(cluster, name);
    return withOptimisticRetry(false, () => this.repo.atomically(async () => {
      const found = await this.repo.configurations.get(ref.subscriptionId, id);
      if (!found) throw errors.resourceNotFound(CONFIGURATION_TYPE, name, ref.resourceGroup);
      const record = found.record;
      if (report.observedGeneration > record.generation) {
        throw errors.invalidParameter("observedGeneration", `observedGeneration ${report.observedGeneration} is newer than the configuration's generation ${record.generation}.`);
      }
      if (report.observedGeneration < record.generation) return { accepted: false, reason: "stale" };
      // only a tombstone can be removed: a live configuration reported removed is the agent's error, not a state to record
      if (report.removed === true && !found.deleted) throw errors.invalidParameter("removed", `'removed' is true, but the configuration '${name}' has not been deleted.`);
      if (found.deleted) {
        if (!report.removed) return { accepted: false, reason: "tombstone" };
        // the agent removed it: the tombstone has served its purpose
        await this.repo.configurations.removeTombstone(ref.subscriptionId, id, found.etag);
        await announce(this.repo, this.bus, ref.subscriptionId, cluster, "configurations");
        return { accepted: true };
      }
      const delivered = report.protectedSettingsReceived === true && hasSecrets(record);
      const deliveredAt = new Date(this.clock.now()).toISOString();
      const updated: ConfigurationRecord = {
        ...record,
        provisioningState: report.complianceState === "Failed" ? "Failed" : "Succeeded",
        observedGeneration: record.generation,
        complianceStatus: {
          complianceState: report.complianceState,
          ...(report.lastConfigApplied !== undefined ? { lastConfigApplied: new Date(report.lastConfigApplied).toISOString() } : {}),
          ...(report.message !== undefined
            ? { message: report.message }
            : delivered
              ? { message: `The protected settings were delivered to the cluster at ${deliveredAt}.` }
              : {}),
          ...(report.messageLevel !== undefined ? { messageLevel: report.messageLevel } : {}),
        },
        ...(report.repositoryPublicKey !== undefined ? { repositoryPublicKey: report.repositoryPublicKey } : {}),
        ...(delivered ? { secretsDelivered: { generation: record.generation, at: deliveredAt } } : {}),
        ...(report.secretVersions !== undefined && hasReferences(record) ? { appliedSecretVersions: appliedVersions(record, report.secretVersions) } : {}),
      };
      await this.repo.configurations.write(ref.subscriptionId, updated, found.etag);
      // a copy read from Key Vault is renewed by the resolver, not purged on delivery (it would be read again at once)
      if (delivered && !hasReferences(record) && this.options.purgeAfterDelivery && (await this.repo.secrets.delete(ref.subscriptionId, id))) {
        this.repo.afterCommit(() => this.options.audit.purged(id, valueKinds(record), "delivered"));
        await announce(this.repo, this.bus, ref.subscriptionId, cluster, "configurations");
      }
      return { accepted: true };
    }));
  }

  async heartbeat(ref: ClusterRef, beat: Heartbeat): Promise<void> {
    const id = ref.id;
    await withOptimisticRetry(false, async () => {
      const found = await this.repo.clusters.get(ref.subscriptionId, id);
      if (!found) throw errors.authenticationInvalid("the token's cluster is not registered");
      const p = found.record.properties;
      await this.repo.clusters.write(
        {
          ...found.record,
          properties: {
            ...p,
            agentVersion: beat.agentVersion,
            kubernetesVersion: beat.kubernetesVersion,
            totalNodeCount: beat.totalNodeCount,
            connectivityStatus: "Connected",
            lastConnectivityTime: new Date(this.clock.now()).toISOString(),
          },
        },
        found.etag,
      );
    });
  }
}
