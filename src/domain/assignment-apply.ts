/**
 * One assignment on one cluster: the only place an assignment writes configurations. Level-triggered
 * and idempotent - it compares what is there with what the assignment wants and writes only the
 * difference - so a rerun after a crash, or a second replica, changes nothing that is already right.
 *
 * Guards, each against a write that would otherwise land on stale ground:
 * - the cluster is read again here (not taken from the page the caller read): a cluster deleted
 *   meanwhile gets nothing; and after a create it is checked once more, so a configuration written
 *   while its cluster was being deleted is taken back (clusters are deleted before their children);
 * - `stillCurrent` is asked just before every write: the caller answers whether the assignment it
 *   holds is still the stored one (a PUT or DELETE since makes the write stale: the caller re-reads).
 */
import { announce, type ChangeBus } from "./changes.js";
import { hasSecrets, tombstoneOf } from "./configurations.js";
import { isManagedBy, managedConfigurationId, matches, sameSpec } from "./assignment-rules.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Persistence, Versioned } from "../persistence/index.js";
import type { AssignmentRecord, ClusterRecord, ConfigurationRecord } from "./types.js";
import { nextSystemData } from "../arm/system-data.js";
import type { ClusterId, ClusterKey } from "../arm/resource-ids.js";
export { storedClusterKey } from "../arm/resource-ids.js";
import type { Clock } from "../ports/clock.js";

export type ApplyOutcome = "created" | "updated" | "removed" | "unchanged" | "clash" | "stale";

export interface ApplyDeps {
  repo: Persistence;
  bus: ChangeBus;
  clock: Clock;
}

const CREATED_MESSAGE = "Created by a configuration assignment; waiting for the cluster agent to apply it.";

/**
 * The write and what follows every write (the secrets a user added under DoNotEnforce go, agents
 * hear), committed together: one durable commit per cluster.
 */
function commit(deps: ApplyDeps, subscriptionId: string, previous: Versioned<ConfigurationRecord> | undefined, write: () => Promise<unknown>, clusterId: ClusterId): Promise<void> {
  return deps.repo.atomically(async () => {
    await write();
    if (previous && hasSecrets(previous.record)) await deps.repo.secrets.delete(subscriptionId, previous.record.id);
    await announce(deps.repo, deps.bus, subscriptionId, clusterId, "configurations");
  });
}

/** what one assignment wants done on one cluster, given the configuration of its name there (live, not a tombstone) */
export type ApplyDecision = "unchanged" | "remove" | "clash" | "write";

/** the pure part of applyAssignment: the decision, from what is there and what the assignment wants */
export function decideApply(assignment: AssignmentRecord, cluster: ClusterRecord, live: ConfigurationRecord | undefined): ApplyDecision {
  const enforced = assignment.spec.enforcementMode === "Default";
  if (!matches(assignment, cluster)) {
    // a cluster that stopped matching loses what the assignment created, nothing else; DoNotEnforce
    // writes nothing, except that deleting the assignment always takes back what it created
    if (!live || !isManagedBy(live, assignment) || (!enforced && assignment.deletion === undefined)) return "unchanged";
    return "remove";
  }
  // DoNotEnforce only reports
  if (!enforced) return "unchanged";
  if (live && !isManagedBy(live, assignment)) return "clash";
  // secrets a user added while it was not enforced are not the assignment's: rewrite without them
  if (live && sameSpec(live.spec, assignment.spec.configuration) && !hasSecrets(live)) return "unchanged";
  return "write";
}

export async function applyAssignment(
  deps: ApplyDeps,
  assignment: AssignmentRecord,
  clusterKey: ClusterKey,
  stillCurrent: () => Promise<boolean> = async () => true,
): Promise<ApplyOutcome> {
  const subscriptionId = assignment.subscriptionId;
  return withOptimisticRetry(false, async () => {
    const found = await deps.repo.clusters.get(subscriptionId, clusterKey);
    if (!found) return "unchanged"; // its configurations went with it
    const cluster = found.record;
    const id = managedConfigurationId(assignment, cluster);
    const existing = await deps.repo.configurations.get(subscriptionId, id);
    const live = existing && !existing.deleted ? existing : undefined;
    const decision = decideApply(assignment, cluster, live?.record);
    if (decision === "remove" && live) {
      if (!(await stillCurrent())) return "stale";
      const tombstone = await deps.repo.configurations.prepare(subscriptionId, tombstoneOf(live.record), live.etag, true);
      await commit(deps, subscriptionId, live, tombstone, cluster.id);
      return "removed";
    }
    if (decision !== "write") return decision === "clash" ? "clash" : "unchanged";
    if (!(await stillCurrent())) return "stale";
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
    await commit(deps, subscriptionId, live, () => deps.repo.configurations.write(subscriptionId, record, existing?.etag), cluster.id);
    if (!(await deps.repo.clusters.get(subscriptionId, cluster.id))) {
      // the cluster was deleted while we wrote: what we wrote must not outlive it
      await deps.repo.clusters.deleteContent(subscriptionId, cluster.id);
      return "unchanged";
    }
    return live ? "updated" : "created";
  });
}
