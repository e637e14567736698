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
import { hasReferences, hasSecrets, hasSubmittedSecrets, referenceSecrets, tombstoneOf } from "./configurations.js";
import { isManagedBy, managedConfigurationId, matches, sameSpec } from "./assignment-rules.js";
import { withOptimisticRetry } from "./optimistic.js";
import { MAX_UNIT_WRITES, type Persistence, type Versioned } from "../persistence/index.js";
import type { AssignmentRecord, ClusterRecord, ConfigurationRecord } from "./types.js";
import { nextSystemData } from "../arm/system-data.js";
import { clusterKeyOf, keyOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
export { storedClusterKey } from "../arm/resource-ids.js";
export type { ClusterKey } from "../arm/resource-ids.js";
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
/**
 * whether writing `next` over `previous` drops its secrets: always, except the copy read from Key Vault for
 * the same references (a change of other properties keeps it: the cluster is not held back meanwhile)
 */
function dropsSecrets(previous: ConfigurationRecord | undefined, next: ConfigurationRecord | undefined): boolean {
  if (!previous || !hasSecrets(previous)) return false;
  return !(next && hasReferences(previous) && hasReferences(next) && previous.secrets.version === next.secrets.version);
}

function commit(deps: ApplyDeps, subscriptionId: string, previous: Versioned<ConfigurationRecord> | undefined, write: () => Promise<unknown>, clusterId: ClusterId, next?: ConfigurationRecord): Promise<void> {
  return deps.repo.atomically(async () => {
    await write();
    if (previous && dropsSecrets(previous.record, next)) await deps.repo.secrets.delete(subscriptionId, previous.record.id);
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
  if (live && sameSpec(live.spec, assignment.spec.configuration) && !hasSubmittedSecrets(live)) return "unchanged";
  return "write";
}

/** the configuration the assignment wants on the cluster, over what is there (`existing`, a tombstone or `live`) */
function assignedRecord(
  deps: ApplyDeps,
  assignment: AssignmentRecord,
  cluster: ClusterRecord,
  existing: Versioned<ConfigurationRecord> | undefined,
  live: Versioned<ConfigurationRecord> | undefined,
): ConfigurationRecord {
  const at = new Date(deps.clock.now()).toISOString();
  return {
    id: live?.record.id ?? managedConfigurationId(assignment, cluster),
    name: live?.record.name ?? assignment.spec.configurationName,
    clusterId: cluster.id,
    spec: assignment.spec.configuration,
    generation: (existing?.record.generation ?? 0) + 1,
    ...(live?.record.repositoryPublicKey !== undefined ? { repositoryPublicKey: live.record.repositoryPublicKey } : {}),
    provisioningState: "Succeeded",
    complianceStatus: { complianceState: "Pending", message: CREATED_MESSAGE, messageLevel: "Information" },
    // Key Vault references: the resolver reads them for this cluster (docs/design/keyvault-references.md)
    secrets: assignment.spec.configuration.keyVaultReferences ? referenceSecrets(assignment.spec.configuration.keyVaultReferences) : { protectedSettingKeys: [], hasKnownHosts: false },
    managedBy: assignment.id,
    systemData: nextSystemData(live?.record.systemData, { by: assignment.id, byType: "Application", at }),
  };
}

/**
 * What a cluster should get from the assignment: the assignment itself, or (a staged rollout whose
 * stage has not opened for the cluster) the previous generation's; undefined: leave the cluster alone.
 */
export type ViewFor = (cluster: ClusterRecord) => AssignmentRecord | undefined;

export async function applyAssignment(
  deps: ApplyDeps,
  stored: AssignmentRecord,
  clusterKey: ClusterKey,
  stillCurrent: () => Promise<boolean> = async () => true,
  viewFor?: ViewFor,
): Promise<ApplyOutcome> {
  const subscriptionId = stored.subscriptionId;
  return withOptimisticRetry(false, async () => {
    const found = await deps.repo.clusters.get(subscriptionId, clusterKey);
    if (!found) return "unchanged"; // its configurations went with it
    const cluster = found.record;
    const assignment = viewFor ? viewFor(cluster) : stored;
    if (!assignment) return "unchanged";
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
    const record = assignedRecord(deps, assignment, cluster, existing, live);
    await commit(deps, subscriptionId, live, () => deps.repo.configurations.write(subscriptionId, record, existing?.etag), cluster.id, record);
    if (!(await deps.repo.clusters.get(subscriptionId, cluster.id))) {
      // the cluster was deleted while we wrote: what we wrote must not outlive it
      await deps.repo.clusters.deleteContent(subscriptionId, cluster.id);
      return "unchanged";
    }
    return live ? "updated" : "created";
  });
}

export interface ApplyManyOptions {
  /** asked before each commit: whether the assignment is still the stored one */
  stillCurrent?: () => Promise<boolean>;
  /** at most this many clusters per commit (MAX_UNIT_WRITES bounds it anyway) */
  maxPerCommit?: number;
  /** called between clusters while decoding and sealing (the reconciler yields to the event loop there) */
  pace?: () => Promise<void>;
  /** staged rollouts: what each cluster should get (absent: the assignment, on every cluster) */
  viewFor?: ViewFor;
}

/** a write one cluster asks for in a batch, sealed and ready to stage */
interface PlannedWrite {
  /** the live configuration's secrets go with this write */
  drop: boolean;
  index: number;
  cluster: ClusterRecord;
  live: Versioned<ConfigurationRecord> | undefined;
  write: () => Promise<unknown>;
  outcome: "created" | "updated" | "removed";
  /** the writes it stages: the record and the marker, plus the secrets and their key it replaces */
  ops: number;
}

/**
 * One assignment on several clusters of its subscription (a rollout's page): the decisions and guards
 * of applyAssignment, with the reads made in bulk (one read of the clusters, one of their
 * configurations) and the writes of many clusters committed together, as many as one commit holds
 * (MAX_UNIT_WRITES; `maxPerCommit` bounds it further): one durable commit per group instead of one per
 * cluster. A group is all or nothing, so a crash leaves each cluster either done or untouched, and a
 * rerun writes only what is still missing.
 *
 * Outcomes by position; `undefined` where a cluster is not settled here (its record or configuration is
 * unreadable, or its group's commit failed - nothing of that group was written, and a lost race means
 * another writer moved first): the caller applies those one by one (applyAssignment: retries, errors
 * reported per cluster). `stillCurrent` is asked before each group's commit: when it answers no, every
 * cluster still to be written gets "stale" and nothing more is written. Reads, decisions and sealing
 * may be interleaved with other work (`pace`): every write is conditional on what was read (etags,
 * creates), so what changed meanwhile makes the commit fail and its clusters go one by one.
 */
export async function applyAssignmentMany(
  deps: ApplyDeps,
  assignment: AssignmentRecord,
  clusterKeys: ClusterKey[],
  options: ApplyManyOptions = {},
): Promise<(ApplyOutcome | undefined)[]> {
  const { stillCurrent = async () => true, maxPerCommit = Number.POSITIVE_INFINITY, pace = async () => undefined, viewFor } = options;
  const subscriptionId = assignment.subscriptionId;
  const outcomes: (ApplyOutcome | undefined)[] = new Array(clusterKeys.length).fill(undefined);
  const clusterDocs = new Map((await deps.repo.clusters.documents(subscriptionId, clusterKeys)).map((d) => [d.key, d]));
  const clusters: (ClusterRecord | undefined)[] = [];
  for (const [i, key] of clusterKeys.entries()) {
    const doc = clusterDocs.get(key);
    if (!doc) outcomes[i] = "unchanged"; // its configurations went with it
    else clusters[i] = await deps.repo.clusters.decode(doc).then((c) => c.record, () => undefined); // unreadable: applied alone
    await pace();
  }
  const ids = clusters.flatMap((c) => (c ? [managedConfigurationId(assignment, c)] : []));
  const configDocs = new Map((await deps.repo.configurations.documents(subscriptionId, ids)).map((d) => [d.key, d]));
  const planned: PlannedWrite[] = [];
  for (const [i, cluster] of clusters.entries()) {
    if (!cluster) continue;
    const doc = configDocs.get(keyOf(managedConfigurationId(assignment, cluster)));
    let existing: Versioned<ConfigurationRecord> | undefined;
    try {
      existing = doc ? await deps.repo.configurations.decode(doc) : undefined;
    } catch {
      continue; // unreadable: applied alone
    }
    const live = existing && !existing.deleted ? existing : undefined;
    const view = viewFor ? viewFor(cluster) : assignment;
    if (!view) {
      outcomes[i] = "unchanged";
      continue;
    }
    const decision = decideApply(view, cluster, live?.record);
    if (decision === "remove" && live) {
      const write = await deps.repo.configurations.prepare(subscriptionId, tombstoneOf(live.record), live.etag, true);
      const drop = dropsSecrets(live.record, undefined);
      planned.push({ index: i, cluster, live, write, outcome: "removed", ops: 2 + (drop ? 2 : 0), drop });
    } else if (decision === "write") {
      const record = assignedRecord(deps, view, cluster, existing, live);
      const write = await deps.repo.configurations.prepare(subscriptionId, record, existing?.etag);
      const drop = dropsSecrets(live?.record, record);
      // a first write also claims the cluster's Flux version (persistence/flux-versions.ts): one more write
      planned.push({ index: i, cluster, live, write, outcome: live ? "updated" : "created", ops: 2 + (live ? 0 : 1) + (drop ? 2 : 0), drop });
    } else outcomes[i] = decision === "clash" ? "clash" : "unchanged";
    await pace();
  }
  for (let start = 0; start < planned.length; ) {
    let end = start;
    for (let ops = 0; end < planned.length && end - start < maxPerCommit && ops + (planned[end] as PlannedWrite).ops <= MAX_UNIT_WRITES; end++) ops += (planned[end] as PlannedWrite).ops;
    const group = planned.slice(start, end);
    start = end;
    if (!(await stillCurrent())) {
      for (const p of planned.slice(start - group.length)) outcomes[p.index] = "stale";
      break;
    }
    try {
      await deps.repo.atomically(async () => {
        for (const p of group) {
          await p.write();
          if (p.live && p.drop) await deps.repo.secrets.delete(subscriptionId, p.live.record.id);
          await announce(deps.repo, deps.bus, subscriptionId, p.cluster.id, "configurations");
        }
      });
    } catch {
      continue; // nothing of the group was written: its clusters are applied one by one
    }
    // a cluster deleted while we wrote: what we wrote must not outlive it
    const written = group.filter((p) => p.outcome !== "removed");
    const still = new Set((await deps.repo.clusters.documents(subscriptionId, written.map((p) => clusterKeyOf(p.cluster.id)))).map((d) => d.key));
    for (const p of group) {
      if (p.outcome !== "removed" && !still.has(clusterKeyOf(p.cluster.id))) {
        await deps.repo.clusters.deleteContent(subscriptionId, p.cluster.id);
        outcomes[p.index] = "unchanged";
      } else outcomes[p.index] = p.outcome;
    }
  }
  return outcomes;
}
