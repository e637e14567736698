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
 *
 * Flux v2 (issue #16): an assignment gives a sourceControlConfiguration (v1) or a fluxConfiguration (v2).
 * A cluster holding the assignment's configuration of the other kind is switched in ONE unit of work:
 * the old one's tombstone (its secrets shredded), the new one, and the cluster's desired-state marker
 * bumped once - as the migrate action does (flux-migrations.ts) - so its agent sees "remove v1, apply v2"
 * (or back, for a rollback) in one desired-state version. Azure's one-Flux-version rule is kept: a cluster
 * carrying configurations of the other kind that the assignment does not manage is a clash.
 */
import crypto from "node:crypto";
import { announce, type ChangeBus } from "./changes.js";
import { hasReferences, hasSecrets, hasSubmittedSecrets, referenceSecrets, tombstoneOf } from "./configurations.js";
import { fluxHasSecrets, fluxTombstoneOf } from "./flux-configurations.js";
import { isFluxV2, isManagedBy, managedConfigurationId, managedFluxConfigurationId, matches, mixedMessage, needsOthers, sameFluxSpec, sameSpec, type Held } from "./assignment-rules.js";
import { withOptimisticRetry } from "./optimistic.js";
import { MAX_UNIT_WRITES, type Persistence, type StoredDocument, type Versioned } from "../persistence/index.js";
import type { AssignmentRecord, ClusterRecord, ConfigurationRecord, FluxConfigurationRecord, FluxConfigurationSpec } from "./types.js";
import { nextSystemData } from "../arm/system-data.js";
import { clusterKeyOf, keyOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
export { storedClusterKey } from "../arm/resource-ids.js";
export type { ClusterKey } from "../arm/resource-ids.js";
import type { Clock } from "../ports/clock.js";

/** "migrated": the cluster switched Flux version (v1 -> v2, or back for a rollback) in one unit of work */
export type ApplyOutcome = "created" | "updated" | "removed" | "unchanged" | "clash" | "stale" | "migrated";

export interface ApplyDeps {
  repo: Persistence;
  bus: ChangeBus;
  clock: Clock;
}

const CREATED_MESSAGE = "Created by a configuration assignment; waiting for the cluster agent to apply it.";

/**
 * whether writing `next` over `previous` drops its secrets: always, except the copy read from Key Vault for
 * the same references (a change of other properties keeps it: the cluster is not held back meanwhile)
 */
function dropsSecrets(previous: ConfigurationRecord | undefined, next: ConfigurationRecord | undefined): boolean {
  if (!previous || !hasSecrets(previous)) return false;
  return !(next && hasReferences(previous) && hasReferences(next) && previous.secrets.version === next.secrets.version);
}

/** what one assignment wants done on one cluster, given what the cluster holds (live records, not tombstones) */
export type ApplyDecision = "unchanged" | "remove" | "clash" | "write" | "migrate";

/**
 * The pure part of applyAssignment: the decision, from what is there and what the assignment wants.
 * `migrate`: the cluster holds the assignment's configuration of the other Flux version; it is retired and
 * the wanted one written in one unit of work. `held.v1`, `held.v2`: the configurations of the assignment's
 * name of each kind; `held.otherV1`/`otherV2` (looked up when `needsOthers` says so): the cluster's others.
 */
export function decideApply(assignment: AssignmentRecord, cluster: ClusterRecord, held: Held): ApplyDecision {
  const enforced = assignment.spec.enforcementMode === "Default";
  const ownV1 = held.v1 !== undefined && isManagedBy(held.v1, assignment);
  const ownV2 = held.v2 !== undefined && isManagedBy(held.v2, assignment);
  if (!matches(assignment, cluster)) {
    // a cluster that stopped matching loses what the assignment created, nothing else; DoNotEnforce
    // writes nothing, except that deleting the assignment always takes back what it created
    if (!(ownV1 || ownV2) || (!enforced && assignment.deletion === undefined)) return "unchanged";
    return "remove";
  }
  // DoNotEnforce only reports
  if (!enforced) return "unchanged";
  if ((held.v1 && !ownV1) || (held.v2 && !ownV2)) return "clash";
  // the cluster carries configurations of the other Flux version the assignment does not manage: never a mixed cluster
  if (mixedMessage(assignment, held) !== undefined) return "clash";
  if (isFluxV2(assignment.spec)) {
    if (ownV1) return "migrate";
    if (held.v2 && sameFluxSpec(held.v2.spec, assignment.spec.fluxConfiguration)) return "unchanged";
    return "write";
  }
  if (ownV2) return "migrate";
  // secrets a user added while it was not enforced are not the assignment's: rewrite without them
  if (held.v1 && assignment.spec.configuration && sameSpec(held.v1.spec, assignment.spec.configuration) && !hasSubmittedSecrets(held.v1)) return "unchanged";
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
  const configuration = assignment.spec.configuration;
  if (!configuration) throw new Error("a Flux v1 configuration was asked of a Flux v2 assignment");
  return {
    id: live?.record.id ?? managedConfigurationId(assignment, cluster),
    name: live?.record.name ?? assignment.spec.configurationName,
    clusterId: cluster.id,
    spec: configuration,
    generation: (existing?.record.generation ?? 0) + 1,
    ...(live?.record.repositoryPublicKey !== undefined ? { repositoryPublicKey: live.record.repositoryPublicKey } : {}),
    provisioningState: "Succeeded",
    complianceStatus: { complianceState: "Pending", message: CREATED_MESSAGE, messageLevel: "Information" },
    // Key Vault references: the resolver reads them for this cluster (docs/design/keyvault-references.md)
    secrets: configuration.keyVaultReferences ? referenceSecrets(configuration.keyVaultReferences) : { protectedSettingKeys: [], hasKnownHosts: false },
    managedBy: assignment.id,
    systemData: nextSystemData(live?.record.systemData, { by: assignment.id, byType: "Application", at }),
  };
}

/** the fluxConfiguration a Flux v2 assignment wants on the cluster (no secrets: an assignment carries none) */
function assignedFluxRecord(
  deps: ApplyDeps,
  assignment: AssignmentRecord,
  cluster: ClusterRecord,
  existing: Versioned<FluxConfigurationRecord> | undefined,
  live: Versioned<FluxConfigurationRecord> | undefined,
): FluxConfigurationRecord {
  const at = new Date(deps.clock.now()).toISOString();
  const spec = assignment.spec.fluxConfiguration as FluxConfigurationSpec;
  return {
    id: live?.record.id ?? managedFluxConfigurationId(assignment, cluster),
    name: live?.record.name ?? assignment.spec.configurationName.toLowerCase(),
    clusterId: cluster.id,
    spec,
    generation: (existing?.record.generation ?? 0) + 1,
    provisioningState: "Succeeded",
    // a change restarts convergence: Pending until the agent reports this generation
    compliance: { complianceState: spec.suspend ? "Suspended" : "Pending", statuses: live?.record.compliance.statuses ?? [] },
    ...(live?.record.repositoryPublicKey !== undefined ? { repositoryPublicKey: live.record.repositoryPublicKey } : {}),
    secrets: { protectedSettingKeys: [], hasKnownHosts: false },
    operation: { id: crypto.randomUUID(), kind: live ? "update" : "create", startedAt: at },
    managedBy: assignment.id,
    systemData: nextSystemData(live?.record.systemData, { by: assignment.id, byType: "Application", at }),
  };
}

/**
 * What a staged rollout gives a cluster: the assignment itself, or (a staged rollout whose stage has not
 * opened for the cluster) the previous generation's; undefined: leave the cluster alone.
 */
export type ViewFor = (cluster: ClusterRecord) => AssignmentRecord | undefined;

/** what a cluster holds of both kinds under the assignment's name: tombstones included (`existing*`), live ones apart */
interface Found {
  existingV1?: Versioned<ConfigurationRecord>;
  existingV2?: Versioned<FluxConfigurationRecord>;
}

const live = <T>(found: (Versioned<T> & { deleted?: boolean }) | undefined): Versioned<T> | undefined => (found && !found.deleted ? found : undefined);

function heldOf(found: Found, others?: { otherV1?: string[]; otherV2?: string[] }): Held {
  const v1 = live(found.existingV1)?.record;
  const v2 = live(found.existingV2)?.record;
  return { ...(v1 ? { v1 } : {}), ...(v2 ? { v2 } : {}), ...others };
}

/**
 * The cluster's other live configurations of the kind the assignment does not give (Azure's one-version
 * rule), read only for creates and switches. `anyV2` answers whether the subscription has any live
 * fluxConfiguration at all: a Flux v1 rollout on a subscription without any lists nothing per cluster.
 */
async function othersOf(repo: Persistence, assignment: AssignmentRecord, cluster: ClusterRecord, kind: "v1" | "v2", anyV2: () => Promise<boolean>): Promise<{ otherV1?: string[]; otherV2?: string[] }> {
  const sub = assignment.subscriptionId;
  if (kind === "v1") {
    const own = keyOf(managedConfigurationId(assignment, cluster));
    const page = await repo.configurations.page(sub, cluster.id, 6);
    return { otherV1: page.items.filter((v) => keyOf(v.record.id) !== own).map((v) => v.record.name) };
  }
  if (!(await anyV2())) return { otherV2: [] };
  const own = keyOf(managedFluxConfigurationId(assignment, cluster));
  const page = await repo.fluxConfigurations.page(sub, cluster.id, 6);
  return { otherV2: page.items.filter((v) => keyOf(v.record.id) !== own).map((v) => v.record.name) };
}

/** one memoised look at whether the subscription has any live fluxConfiguration */
function anyV2Of(repo: Persistence, subscriptionId: string): () => Promise<boolean> {
  let answer: Promise<boolean> | undefined;
  return () => (answer ??= repo.fluxConfigurations.anyInSubscription(subscriptionId));
}

/** the decision on one cluster, with the cluster's other configurations listed when it depends on them */
async function decide(repo: Persistence, view: AssignmentRecord, cluster: ClusterRecord, found: Found, anyV2: () => Promise<boolean>): Promise<ApplyDecision> {
  const held = heldOf(found);
  const first = decideApply(view, cluster, held);
  if (first !== "write" && first !== "migrate") return first;
  const kind = needsOthers(view, held);
  if (!kind) return first;
  return decideApply(view, cluster, heldOf(found, await othersOf(repo, view, cluster, kind, anyV2)));
}

/** a cluster's writes, sealed and ready to stage: what a decision amounts to */
interface ClusterWrites {
  writes: Array<() => Promise<unknown>>;
  /** secrets documents to delete with them (the replaced or retired records') */
  dropSecretsOf: string[];
  outcome: "created" | "updated" | "removed" | "migrated";
  /** writes the commit holds for this cluster: the records, the marker, the secrets and their keys */
  ops: number;
}

/** the writes of a decision (remove, write, migrate) on one cluster, sealed now */
async function writesFor(deps: ApplyDeps, view: AssignmentRecord, cluster: ClusterRecord, found: Found, decision: "remove" | "write" | "migrate"): Promise<ClusterWrites> {
  const sub = view.subscriptionId;
  const v1 = live(found.existingV1);
  const v2 = live(found.existingV2);
  const out: ClusterWrites = { writes: [], dropSecretsOf: [], outcome: "removed", ops: 1 };
  let claims = 0;
  const retireV1 = async (record: Versioned<ConfigurationRecord>) => {
    out.writes.push(await deps.repo.configurations.prepare(sub, tombstoneOf(record.record), record.etag, true));
    if (hasSecrets(record.record)) out.dropSecretsOf.push(record.record.id);
  };
  const retireV2 = async (record: Versioned<FluxConfigurationRecord>) => {
    const operation = { id: crypto.randomUUID(), kind: "delete" as const, startedAt: new Date(deps.clock.now()).toISOString() };
    out.writes.push(await deps.repo.fluxConfigurations.prepare(sub, fluxTombstoneOf(record.record, operation), record.etag, true));
    if (fluxHasSecrets(record.record)) out.dropSecretsOf.push(record.record.id);
  };
  if (decision === "remove") {
    if (v1 && isManagedBy(v1.record, view)) await retireV1(v1);
    if (v2 && isManagedBy(v2.record, view)) await retireV2(v2);
  } else if (isFluxV2(view.spec)) {
    // v2 wanted: the assignment's v1 configuration (if any) retired in the same unit
    if (decision === "migrate" && v1) await retireV1(v1);
    out.writes.push(await deps.repo.fluxConfigurations.prepare(sub, assignedFluxRecord(deps, view, cluster, found.existingV2, v2), found.existingV2?.etag));
    if (v2 && fluxHasSecrets(v2.record)) out.dropSecretsOf.push(v2.record.id);
    out.outcome = decision === "migrate" ? "migrated" : v2 ? "updated" : "created";
    if (!v2) claims = 1;
  } else {
    // v1 wanted (a rollback to a Flux v1 generation, or a stage that has not opened): the assignment's fluxConfiguration retired in the same unit
    if (decision === "migrate" && v2) await retireV2(v2);
    const record = assignedRecord(deps, view, cluster, found.existingV1, v1);
    out.writes.push(await deps.repo.configurations.prepare(sub, record, found.existingV1?.etag));
    if (v1 && dropsSecrets(v1.record, record)) out.dropSecretsOf.push(v1.record.id);
    out.outcome = decision === "migrate" ? "migrated" : v1 ? "updated" : "created";
    if (!v1) claims = 1;
  }
  // a first write of a kind also claims the cluster's Flux version (persistence/flux-versions.ts): one more write
  out.ops = out.writes.length + 1 + 2 * out.dropSecretsOf.length + claims;
  return out;
}

/** stages a cluster's writes in the caller's unit of work, and its marker once: its agent sees them as one version */
async function stage(deps: ApplyDeps, subscriptionId: string, clusterId: ClusterId, planned: ClusterWrites): Promise<void> {
  for (const write of planned.writes) await write();
  for (const id of planned.dropSecretsOf) await deps.repo.secrets.delete(subscriptionId, id);
  await announce(deps.repo, deps.bus, subscriptionId, clusterId, "configurations");
}

/**
 * Whether the other Flux version's record of the name must be read too: not when the view wants the kind
 * read first and the assignment's own live record of it is there (the other kind was retired in the same
 * unit that wrote it, and the one-version rule keeps a user's off the cluster), so a fleet at rest on one
 * version costs no read of the other.
 */
function needsOtherKind(view: AssignmentRecord, found: Found, firstV2: boolean): boolean {
  const first = firstV2 ? live(found.existingV2) : live(found.existingV1);
  return isFluxV2(view.spec) !== firstV2 || !(first && isManagedBy(first.record, view));
}

/** the records of the assignment's name on a cluster (the kind it wants first, the other when needed), tombstones included */
async function findOne(deps: ApplyDeps, view: AssignmentRecord, cluster: ClusterRecord): Promise<Found> {
  const sub = view.subscriptionId;
  const firstV2 = isFluxV2(view.spec);
  const found: Found = {};
  const readV1 = async () => {
    const v = await deps.repo.configurations.get(sub, managedConfigurationId(view, cluster));
    if (v) found.existingV1 = v;
  };
  const readV2 = async () => {
    const v = await deps.repo.fluxConfigurations.get(sub, managedFluxConfigurationId(view, cluster));
    if (v) found.existingV2 = v;
  };
  await (firstV2 ? readV2() : readV1());
  if (needsOtherKind(view, found, firstV2)) await (firstV2 ? readV1() : readV2());
  return found;
}

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
    const held = await findOne(deps, assignment, cluster);
    const decision = await decide(deps.repo, assignment, cluster, held, anyV2Of(deps.repo, subscriptionId));
    if (decision === "unchanged" || decision === "clash") return decision;
    const planned = await writesFor(deps, assignment, cluster, held, decision);
    if (planned.writes.length === 0) return "unchanged";
    if (!(await stillCurrent())) return "stale";
    await deps.repo.atomically(() => stage(deps, subscriptionId, cluster.id, planned));
    if (planned.outcome !== "removed" && !(await deps.repo.clusters.get(subscriptionId, cluster.id))) {
      // the cluster was deleted while we wrote: what we wrote must not outlive it
      await deps.repo.clusters.deleteContent(subscriptionId, cluster.id);
      return "unchanged";
    }
    return planned.outcome;
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
interface PlannedWrite extends ClusterWrites {
  index: number;
  cluster: ClusterRecord;
}

/**
 * One assignment on several clusters of its subscription (a rollout's page): the decisions and guards
 * of applyAssignment, with the reads made in bulk (one read of the clusters, one of their
 * configurations of each kind) and the writes of many clusters committed together, as many as one commit
 * holds (MAX_UNIT_WRITES; `maxPerCommit` bounds it further): one durable commit per group instead of one
 * per cluster. A group is all or nothing, so a crash leaves each cluster either done or untouched, and a
 * rerun writes only what is still missing. A cluster switching Flux version has its retirement, its new
 * configuration and its marker in the same group: one desired-state version.
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
  // the name is the same in every generation (configurationName cannot change): both kinds read in bulk
  // the kind the assignment wants, read in bulk first; the other kind only for the clusters that need it
  // (needsOtherKind: a switch, a closed stage's previous kind, no record of the assignment's own yet)
  const firstV2 = isFluxV2(assignment.spec);
  const docsOf = async (v2: boolean, of: ClusterRecord[]) =>
    new Map(
      (v2
        ? await deps.repo.fluxConfigurations.documents(subscriptionId, of.map((c) => managedFluxConfigurationId(assignment, c)))
        : await deps.repo.configurations.documents(subscriptionId, of.map((c) => managedConfigurationId(assignment, c)))
      ).map((d) => [d.key, d]),
    );
  const decodeInto = async (v2: boolean, found: Found, cluster: ClusterRecord, docs: Map<string, StoredDocument>): Promise<void> => {
    if (v2) {
      const doc = docs.get(keyOf(managedFluxConfigurationId(assignment, cluster)));
      if (doc) found.existingV2 = await deps.repo.fluxConfigurations.decode(doc);
    } else {
      const doc = docs.get(keyOf(managedConfigurationId(assignment, cluster)));
      if (doc) found.existingV1 = await deps.repo.configurations.decode(doc);
    }
  };
  const readable = clusters.flatMap((c) => (c ? [c] : []));
  const firstDocs = await docsOf(firstV2, readable);
  const founds: (Found | undefined)[] = [];
  const views: (AssignmentRecord | undefined)[] = [];
  const needy: ClusterRecord[] = [];
  for (const [i, cluster] of clusters.entries()) {
    if (!cluster) continue;
    const found: Found = {};
    try {
      await decodeInto(firstV2, found, cluster, firstDocs);
    } catch {
      continue; // unreadable: applied alone
    }
    const view = viewFor ? viewFor(cluster) : assignment;
    founds[i] = found;
    views[i] = view;
    if (view && needsOtherKind(view, found, firstV2)) needy.push(cluster);
  }
  // a Flux v1 assignment in a subscription without any fluxConfiguration reads none
  const anyV2 = anyV2Of(deps.repo, subscriptionId);
  const otherDocs = needy.length > 0 && (firstV2 || (await anyV2())) ? await docsOf(!firstV2, needy) : new Map<string, StoredDocument>();
  const needing = new Set(needy);
  const planned: PlannedWrite[] = [];
  for (const [i, cluster] of clusters.entries()) {
    const found = founds[i];
    if (!cluster || !found) continue;
    try {
      if (needing.has(cluster)) await decodeInto(!firstV2, found, cluster, otherDocs);
    } catch {
      continue; // unreadable: applied alone
    }
    const view = views[i];
    if (!view) {
      outcomes[i] = "unchanged";
      continue;
    }
    let decision: ApplyDecision;
    try {
      decision = await decide(deps.repo, view, cluster, found, anyV2);
    } catch {
      continue; // a read failed: applied alone
    }
    if (decision === "unchanged" || decision === "clash") outcomes[i] = decision;
    else {
      const writes = await writesFor(deps, view, cluster, found, decision);
      if (writes.writes.length === 0) outcomes[i] = "unchanged";
      else planned.push({ ...writes, index: i, cluster });
    }
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
        for (const p of group) await stage(deps, subscriptionId, p.cluster.id, p);
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

/**
 * What each of these clusters holds for the assignment (compliance results and summaries, stage gates,
 * what-if): the live configurations of its name of both kinds, read in bulk, and the cluster's other
 * configurations of the other Flux version listed only where the answer depends on them (a cluster without
 * the assignment's configuration yet): by cluster key.
 */
export async function readHeld(repo: Persistence, assignment: AssignmentRecord, clusters: readonly ClusterRecord[]): Promise<Map<string, Held>> {
  const sub = assignment.subscriptionId;
  // the kind the assignment gives first; the other only for clusters without the assignment's own record of it
  const firstV2 = isFluxV2(assignment.spec);
  const v2s = firstV2 ? await repo.fluxConfigurations.getMany(sub, clusters.map((c) => managedFluxConfigurationId(assignment, c))) : new Map<string, Versioned<FluxConfigurationRecord>>();
  const v1s = firstV2 ? new Map<string, Versioned<ConfigurationRecord>>() : await repo.configurations.getMany(sub, clusters.map((c) => managedConfigurationId(assignment, c)));
  const ownFirst = (c: ClusterRecord) => {
    const r = firstV2 ? v2s.get(keyOf(managedFluxConfigurationId(assignment, c)))?.record : v1s.get(keyOf(managedConfigurationId(assignment, c)))?.record;
    return r !== undefined && isManagedBy(r, assignment);
  };
  const needy = clusters.filter((c) => !ownFirst(c));
  const anyV2 = anyV2Of(repo, sub);
  // a Flux v1 assignment in a subscription without any fluxConfiguration reads none
  if (needy.length > 0 && (firstV2 || (await anyV2()))) {
    if (firstV2) for (const [k, v] of await repo.configurations.getMany(sub, needy.map((c) => managedConfigurationId(assignment, c)))) v1s.set(k, v);
    else for (const [k, v] of await repo.fluxConfigurations.getMany(sub, needy.map((c) => managedFluxConfigurationId(assignment, c)))) v2s.set(k, v);
  }
  const out = new Map<string, Held>();
  for (const c of clusters) {
    const v1 = v1s.get(keyOf(managedConfigurationId(assignment, c)))?.record;
    const v2 = v2s.get(keyOf(managedFluxConfigurationId(assignment, c)))?.record;
    let held: Held = { ...(v1 ? { v1 } : {}), ...(v2 ? { v2 } : {}) };
    const kind = assignment.spec.enforcementMode === "Default" ? needsOthers(assignment, held) : undefined;
    if (kind) held = { ...held, ...(await othersOf(repo, assignment, c, kind, anyV2)) };
    out.set(keyOf(c.id), held);
  }
  return out;
}
