/**
 * One assignment on one cluster: the only place an assignment writes configurations. Level-triggered
 * and idempotent - it compares what is there with what the assignment wants and writes only the
 * difference - so a rerun after a crash, or a second replica, changes nothing that is already right.
 */
import { announce, type ChangeBus } from "./changes.js";
import { tombstoneOf } from "./configurations.js";
import { isManagedBy, managedConfigurationId, matches, sameSpec } from "./assignment-rules.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Repository } from "./repository.js";
import type { AssignmentRecord, ClusterRecord, ConfigurationRecord } from "./types.js";
import { nextSystemData } from "../arm/system-data.js";
import type { Clock } from "../ports/clock.js";

export type ApplyOutcome = "created" | "updated" | "removed" | "unchanged" | "clash";

export interface ApplyDeps {
  repo: Repository;
  bus: ChangeBus;
  clock: Clock;
}

const CREATED_MESSAGE = "Created by a configuration assignment; waiting for the cluster agent to apply it.";

export async function applyAssignment(deps: ApplyDeps, assignment: AssignmentRecord, cluster: ClusterRecord): Promise<ApplyOutcome> {
  const id = managedConfigurationId(assignment, cluster);
  const subscriptionId = cluster.subscriptionId;
  return withOptimisticRetry(false, async () => {
    const existing = await deps.repo.getConfiguration(subscriptionId, id);
    const live = existing && !existing.deleted ? existing : undefined;
    const enforced = assignment.spec.enforcementMode === "Default";
    if (!matches(assignment, cluster)) {
      // a cluster that stopped matching loses what the assignment created, nothing else; DoNotEnforce
      // writes nothing, except that deleting the assignment always takes back what it created
      if (!live || !isManagedBy(live.record, assignment) || (!enforced && assignment.deletion === undefined)) return "unchanged";
      await (await deps.repo.prepareConfiguration(subscriptionId, tombstoneOf(live.record), live.etag, true))();
      await announce(deps.repo, deps.bus, subscriptionId, cluster.id, "configurations");
      return "removed";
    }
    // DoNotEnforce only reports
    if (!enforced) return "unchanged";
    if (live && !isManagedBy(live.record, assignment)) return "clash";
    if (live && sameSpec(live.record.spec, assignment.spec.configuration)) return "unchanged";
    const at = new Date(deps.clock.now()).toISOString();
    const record: ConfigurationRecord = {
      id: live?.record.id ?? id,
      name: live?.record.name ?? assignment.spec.configurationName,
      clusterId: cluster.id,
      spec: assignment.spec.configuration,
      generation: (existing?.record.generation ?? 0) + 1,
      ...(live?.record.repositoryPublicKey !== undefined ? { repositoryPublicKey: live.record.repositoryPublicKey } : {}),
      provisioningState: "Succeeded",
      complianceStatus: { complianceState: "Pending", message: CREATED_MESSAGE, messageLevel: "Information" },
      secrets: { protectedSettingKeys: [], hasKnownHosts: false },
      managedBy: assignment.id,
      systemData: nextSystemData(live?.record.systemData, { by: assignment.id, byType: "Application", at }),
    };
    await deps.repo.writeConfiguration(subscriptionId, record, existing?.etag);
    await announce(deps.repo, deps.bus, subscriptionId, cluster.id, "configurations");
    return live ? "updated" : "created";
  });
}
