/**
 * The migrate-to-Flux-v2 actions (issue #16 part 2, docs/design/flux-v2.md "Migrating from Flux v1"): one
 * sourceControlConfiguration, or every one of a cluster, becomes the equivalent fluxConfiguration(s).
 *
 * - whatIf: the bodies (no secret in them), where each protected setting would come from, the warnings.
 *   Nothing is written.
 * - the migration: in ONE unit of work (Persistence.atomically, one commit) every v1 configuration is retired
 *   (its tombstone, as a DELETE leaves one, and its secrets shredded), every v2 one created with its protected
 *   settings (carried over with their ORIGINAL submission time, so the 48-hour clock does not restart, or
 *   taken from the body), and the cluster's version marker bumped once: the agent's desired state moves from
 *   "v1" to "v2" in one version. All or nothing: one configuration blocked blocks the action.
 *
 * The v2 side is reached through `FluxV2Side` (the fluxConfigurations domain provides it), so this module
 * does not know how v2 records are stored.
 */
import { errors, ArmError } from "../arm/errors.js";
import { CONFIGURATION_TYPE, fluxConfigurationRef, keyOf, type ClusterId, type ClusterRef, type ConfigurationRef } from "../arm/resource-ids.js";
import type { WriteActor } from "../arm/system-data.js";
import type { Principal } from "../ports/principal.js";
import type { Clock } from "../ports/clock.js";
import { MAX_UNIT_WRITES, type Persistence, type Versioned } from "../persistence/index.js";
import { announce, type ChangeBus } from "./changes.js";
import type { Clusters } from "./clusters.js";
import { secretsOf, tombstoneOf } from "./configurations.js";
import type { FluxConfigurations } from "./flux-configurations.js";
import { withOptimisticRetry } from "./optimistic.js";
import { bodyWithSecrets, knownHostsWarning, planMigration, resolveSecrets, shownBody, type FluxConfigurationBody, type MigrationPlan, type MigrationWarning, type ResolvedSecrets } from "./flux-migration.js";
import type { Subscriptions } from "./subscriptions.js";
import { SECRET_REFERENCE_SETTINGS, type ConfigurationRecord, type ConfigurationSecrets, type ProtectedSettingKey } from "./types.js";
import { decodeBase64Strict } from "./validation/base64.js";
import { knownHostsProblem } from "./validation/known-hosts.js";
import { kubernetesNameProblem } from "./validation/names.js";
import { parsePrivateKey } from "./validation/ssh-keys.js";

/** what the migration needs of the fluxConfigurations side */
export interface FluxV2Side {
  /** the lower-cased names of the cluster's live fluxConfigurations */
  names(subscriptionId: string, clusterId: ClusterId): Promise<Set<string>>;
  /**
   * Stages, in the caller's unit of work, the creation of a fluxConfiguration from `body` (its secrets
   * included), its protected settings and known_hosts kept as submitted at `submittedAt`. No announcement:
   * the migration bumps the cluster's marker once for everything. Throws an ArmError the body is refused with.
   */
  stageCreate(input: { subscriptionId: string; cluster: ClusterRef; name: string; body: FluxConfigurationBody; submittedAt: number; actor: WriteActor }): Promise<void>;
}

export interface MigrationOptions {
  fluxConfigurationName?: string;
  configurationProtectedSettings?: Partial<Record<ProtectedSettingKey, string>>;
  sshKnownHostsContents?: string;
}

export type MigrationResultKind = "WouldMigrate" | "Migrated" | "Blocked";

export interface MigrationItem {
  sourceControlConfigurationId: string;
  fluxConfigurationId: string;
  result: MigrationResultKind;
  message?: string;
  fluxConfiguration: FluxConfigurationBody;
  protectedSettings: { carried: ProtectedSettingKey[]; supplied: ProtectedSettingKey[]; missing: ProtectedSettingKey[] };
  warnings: MigrationWarning[];
}

export interface MigrationResult {
  whatIf: boolean;
  value: MigrationItem[];
}

/** one configuration's plan in a request: what to create, or why not */
interface Planned {
  found: Versioned<ConfigurationRecord>;
  plan?: MigrationPlan;
  resolved?: ResolvedSecrets;
  item: MigrationItem;
  /** the error the real migration answers with, when blocked */
  error?: ArmError;
}

/**
 * The writes one configuration's migration stages (an upper bound): the v1 tombstone and the v2 record; with
 * secrets, the v2 secrets document and its data key; with v1 secrets, their deletion and their key's destruction.
 * The unit adds two of its own (the cluster's marker, bumped once however often it is announced, and the outbox).
 */
function writesOf(p: Planned): number {
  const v2Secrets = (p.resolved?.settings && Object.keys(p.resolved.settings).length > 0) || p.resolved?.sshKnownHostsContents !== undefined;
  const v1Secrets = p.found.record.secrets.protectedSettingKeys.length > 0 || p.found.record.secrets.hasKnownHosts;
  return 2 + (v2Secrets ? 2 : 0) + (v1Secrets ? 2 : 0);
}

const fluxId = (clusterId: string, name: string): string => `${clusterId}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/${name}`;

/** the request's options, checked (the schema checked their shape) */
function checkOptions(at: string, options: MigrationOptions): void {
  if (options.fluxConfigurationName !== undefined) {
    const problem = kubernetesNameProblem(options.fluxConfigurationName, 63);
    if (problem) throw errors.invalidParameter(`${at}fluxConfigurationName`, `The fluxConfiguration name is invalid: it ${problem}.`);
  }
  for (const [key, value] of Object.entries(options.configurationProtectedSettings ?? {})) {
    const target = `${at}configurationProtectedSettings.${key}`;
    const decoded = typeof value === "string" ? decodeBase64Strict(value) : undefined;
    // the value is never echoed: it is a secret
    if (!decoded || decoded.length === 0) throw errors.invalidParameter(target, `The protected setting '${key}' must be a non-empty base64 string.`);
    if (key === "sshPrivateKey") {
      const parsed = parsePrivateKey(decoded);
      if (!parsed.ok) throw errors.invalidParameter(target, `The protected setting 'sshPrivateKey' is not a usable private key: ${parsed.reason}.`);
    }
  }
  if (options.sshKnownHostsContents !== undefined) {
    const decoded = decodeBase64Strict(options.sshKnownHostsContents);
    const problem = decoded ? knownHostsProblem(decoded.toString("utf8")) : "it is not base64";
    if (problem) throw errors.invalidParameter(`${at}sshKnownHostsContents`, `The property 'sshKnownHostsContents' is not valid known_hosts contents: ${problem}.`);
  }
}

export class FluxMigrations {
  constructor(
    private readonly repo: Persistence,
    private readonly subscriptions: Subscriptions,
    private readonly clusters: Clusters,
    private readonly clock: Clock,
    private readonly bus: ChangeBus,
    /** absent until the fluxConfigurations side is wired: then only whatIf is served */
    private readonly v2?: FluxV2Side,
    private readonly wakeReconciler: () => void = () => undefined,
  ) {}

  /** POST …/sourceControlConfigurations/{name}/migrateToFluxV2 */
  async migrateOne(principal: Principal, ref: ConfigurationRef, body: Record<string, unknown>, actor: () => WriteActor): Promise<MigrationResult> {
    const whatIf = body.whatIf === true;
    await this.subscriptions.authorize(principal, ref.subscriptionId, whatIf ? "read" : "write");
    const cluster = await this.clusters.require(ref.cluster);
    const options: MigrationOptions = {
      ...(typeof body.fluxConfigurationName === "string" ? { fluxConfigurationName: body.fluxConfigurationName } : {}),
      ...(body.configurationProtectedSettings !== undefined ? { configurationProtectedSettings: body.configurationProtectedSettings as MigrationOptions["configurationProtectedSettings"] } : {}),
      ...(typeof body.sshKnownHostsContents === "string" ? { sshKnownHostsContents: body.sshKnownHostsContents } : {}),
    };
    checkOptions("", options);
    let others: string[] = [];
    const select = async (): Promise<Versioned<ConfigurationRecord>[]> => {
      const found = await this.repo.configurations.get(ref.subscriptionId, ref.id);
      if (!found || found.deleted) throw errors.resourceNotFound(CONFIGURATION_TYPE, ref.configurationName, ref.resourceGroup);
      const all = await this.repo.configurations.all(ref.subscriptionId, cluster.record.id);
      others = all.filter((v) => !v.deleted && keyOf(v.record.id) !== keyOf(found.record.id)).map((v) => v.record.name);
      return [found];
    };
    const result = await this.run(ref.cluster, cluster.record.id, whatIf, select, () => options, actor);
    // Azure's one-Flux-version rule is suspended while a cluster is between the two: say so
    if (others.length > 0) {
      for (const item of result.value) {
        item.warnings.push({ code: "ClusterStillHasFluxV1", message: `The cluster keeps its other Flux v1 configurations (${others.join(", ")}) and so carries both Flux versions until they are migrated too; meanwhile its fluxConfigurations cannot be created or changed, nor new Flux v1 configurations created (409 FluxVersionConflict). The cluster action (…/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2) migrates them all in one poll.` });
      }
    }
    return result;
  }

  /** POST …/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2: every v1 configuration of the cluster */
  async migrateCluster(principal: Principal, ref: ClusterRef, body: Record<string, unknown>, actor: () => WriteActor): Promise<MigrationResult> {
    const whatIf = body.whatIf === true;
    await this.subscriptions.authorize(principal, ref.subscriptionId, whatIf ? "read" : "write");
    const cluster = await this.clusters.require(ref);
    const byName = new Map<string, MigrationOptions>();
    for (const [i, raw] of ((body.configurations ?? []) as (MigrationOptions & { name: string })[]).entries()) {
      const { name, ...options } = raw;
      checkOptions(`configurations[${i}].`, options);
      if (byName.has(name.toLowerCase())) throw errors.invalidParameter(`configurations[${i}].name`, `The configuration '${name}' is named twice in 'configurations'.`);
      byName.set(name.toLowerCase(), options);
    }
    const select = async (): Promise<Versioned<ConfigurationRecord>[]> => {
      const live = (await this.repo.configurations.all(ref.subscriptionId, cluster.record.id)).filter((v) => !v.deleted);
      // options for a configuration the cluster does not have are a mistake, refused before anything is written
      const unknown = [...byName.keys()].find((n) => !live.some((v) => v.record.name.toLowerCase() === n));
      if (unknown !== undefined) throw errors.invalidParameter("configurations", `The cluster has no Flux v1 configuration named '${unknown}'.`);
      return live;
    };
    return this.run(ref, cluster.record.id, whatIf, select, (name) => byName.get(name.toLowerCase()) ?? {}, actor);
  }

  private async run(
    cluster: ClusterRef,
    clusterId: ClusterId,
    whatIf: boolean,
    select: () => Promise<Versioned<ConfigurationRecord>[]>,
    optionsOf: (name: string) => MigrationOptions,
    actor: () => WriteActor,
  ): Promise<MigrationResult> {
    const subscriptionId = cluster.subscriptionId;
    if (whatIf) {
      const planned = await this.planAll(subscriptionId, clusterId, await select(), optionsOf);
      return { whatIf: true, value: planned.map((p) => p.item) };
    }
    const v2 = this.v2;
    if (!v2) throw errors.conflict("Migrating to Flux v2 needs the fluxConfigurations resource type, which this deployment does not serve yet; only whatIf is available.");
    // one unit of work: the v1 tombstones, the v2 records and their secrets, one marker bump, one commit
    return withOptimisticRetry(false, () => this.repo.atomically(async () => {
      const planned = await this.planAll(subscriptionId, clusterId, await select(), optionsOf);
      const blocked = planned.find((p) => p.error);
      if (blocked?.error) throw blocked.error;
      // one commit holds at most MAX_UNIT_WRITES writes (Cosmos DB's transactional batch): refuse what cannot fit
      // before writing anything, rather than fail at commit
      // 3: the marker, the outbox touch and the cluster's Flux version (persistence/flux-versions.ts)
      const writes = 3 + planned.reduce((n, p) => n + writesOf(p), 0);
      if (writes > MAX_UNIT_WRITES) {
        throw errors.conflict(
          `The cluster's ${planned.length} Flux v1 configurations need about ${writes} writes, more than one commit holds (${MAX_UNIT_WRITES}), so they cannot switch in one poll. Migrate some with the one-configuration action (…/sourceControlConfigurations/{name}/migrateToFluxV2) first, then the rest with this action.`,
        );
      }
      const now = this.clock.now();
      // retire v1 as a DELETE does: a tombstone (a new generation) the agent is told to remove, its secrets shredded.
      // Every tombstone is staged before the first fluxConfiguration: its claim of the cluster's Flux version lists
      // the live v1 configurations except those this unit retires, so the document says v2 when none stays (mixed otherwise)
      for (const p of planned) {
        const v1 = p.found;
        await (await this.repo.configurations.prepare(subscriptionId, tombstoneOf(v1.record), v1.etag, true))();
      }
      for (const p of planned) {
        const plan = p.plan as MigrationPlan;
        const resolved = p.resolved as ResolvedSecrets;
        await v2.stageCreate({ subscriptionId, cluster, name: plan.fluxConfigurationName, body: bodyWithSecrets(plan, resolved), submittedAt: resolved.submittedAt ?? now, actor: actor() });
        await this.repo.secrets.delete(subscriptionId, p.found.record.id);
        p.item.result = "Migrated";
      }
      if (planned.length > 0) {
        await announce(this.repo, this.bus, subscriptionId, clusterId, "configurations");
        // names are free: an assignment that reported a clash may now create its configuration
        await this.repo.outbox.touch(subscriptionId, clusterId);
        this.repo.afterCommit(this.wakeReconciler);
      }
      return { whatIf: false, value: planned.map((p) => p.item) };
    }));
  }

  private async planAll(subscriptionId: string, clusterId: ClusterId, found: Versioned<ConfigurationRecord>[], optionsOf: (name: string) => MigrationOptions): Promise<Planned[]> {
    const held = await this.repo.secrets.getMany(subscriptionId, found.map((f) => f.record.id));
    const taken = this.v2 ? await this.v2.names(subscriptionId, clusterId) : new Set<string>();
    const claimed = new Map<string, string>();
    const planned: Planned[] = [];
    for (const f of found) {
      const options = optionsOf(f.record.name);
      // a copy read from Key Vault is never carried (planOne asks for the values instead)
      const stored = f.record.spec.keyVaultReferences ? undefined : held.get(keyOf(f.record.id))?.secrets;
      planned.push(await this.planOne(f, options, secretsOf(f.record, stored), taken, claimed));
    }
    return planned;
  }

  private async planOne(found: Versioned<ConfigurationRecord>, options: MigrationOptions, held: ConfigurationSecrets | undefined, taken: Set<string>, claimed: Map<string, string>): Promise<Planned> {
    const record = found.record;
    const blocked = (message: string, error: ArmError, partial?: Partial<MigrationItem>): Planned => ({
      found,
      item: {
        sourceControlConfigurationId: record.id,
        fluxConfigurationId: fluxId(record.clusterId, options.fluxConfigurationName ?? record.name.toLowerCase()),
        fluxConfiguration: { properties: {} } as unknown as FluxConfigurationBody,
        protectedSettings: { carried: [], supplied: [], missing: [] },
        warnings: [],
        ...partial,
        result: "Blocked",
        message,
      },
      error,
    });
    const plan = planMigration(record, options.fluxConfigurationName !== undefined ? { fluxConfigurationName: options.fluxConfigurationName } : {});
    if ("problem" in plan) return blocked(plan.problem, errors.conflict(plan.problem));
    const supplied = options.configurationProtectedSettings ?? {};
    const resolved = resolveSecrets(plan, held, supplied, options.sshKnownHostsContents);
    const warnings = [...plan.warnings];
    const kh = knownHostsWarning(plan, resolved);
    if (kh) warnings.push(kh);
    const item: MigrationItem = {
      sourceControlConfigurationId: record.id,
      fluxConfigurationId: fluxId(record.clusterId, plan.fluxConfigurationName),
      result: "WouldMigrate",
      fluxConfiguration: shownBody(plan, resolved),
      protectedSettings: { carried: resolved.carried, supplied: resolved.supplied, missing: resolved.missing },
      warnings,
    };
    const withItem = (message: string, error: ArmError): Planned => ({ ...blocked(message, error, item), plan, resolved });
    const extra = Object.keys(supplied).filter((k) => !plan.protectedSettingKeys.includes(k as ProtectedSettingKey));
    if (extra.length > 0) {
      const message = `The Flux v1 configuration '${record.name}' has no protected setting '${extra[0]}' to supply (it has: ${plan.protectedSettingKeys.join(", ") || "none"}).`;
      return withItem(message, errors.invalidParameter(`configurationProtectedSettings.${extra[0]}`, message));
    }
    if (record.managedBy !== undefined) {
      const message = `The Flux v1 configuration '${record.name}' is managed by the configuration assignment ${record.managedBy}: it moves to Flux v2 with its assignment, not on its own. Switch the assignment to Flux v2 (PUT it at api-version 2026-11-01-preview with properties.fluxConfiguration instead of properties.configuration; its whatIf shows Migrate per cluster): its rollout migrates this cluster in one desired-state version, stage by stage if it has a rollout policy.`;
      return withItem(message, errors.conflict(message));
    }
    // Key Vault references: the copy the service read from the vault is never carried over (it would become a plain
    // protected setting that expires 48 hours after the read, with nothing to renew it): the values must be supplied
    const references = record.spec.keyVaultReferences;
    if (references) {
      const referenced = SECRET_REFERENCE_SETTINGS.filter((k) => references[k] !== undefined);
      const unsupplied = referenced.filter((k) => (k === "sshKnownHostsContents" ? options.sshKnownHostsContents === undefined : supplied[k] === undefined));
      if (unsupplied.length > 0) {
        const message = `The Flux v1 configuration '${record.name}' takes ${referenced.join(", ")} from Key Vault (keyVaultReferences), and fluxConfigurations do not take Key Vault references yet: the copy the service read from the vault is not carried over, because it would become a plain Flux v2 protected setting that expires 48 hours after the read with nothing to renew it. Supply ${unsupplied.join(", ")} in the action's body (configurationProtectedSettings, sshKnownHostsContents; kept at most 48 hours, as any protected setting), or keep this configuration on Flux v1 until fluxConfigurations take Key Vault references.`;
        const first = unsupplied[0] as string;
        return withItem(message, errors.invalidParameter(first === "sshKnownHostsContents" ? first : `configurationProtectedSettings.${first}`, message));
      }
      warnings.push({ code: "KeyVaultReferencesDropped", source: "keyVaultReferences", message: `The Key Vault references of '${record.name}' (${referenced.join(", ")}) are not carried over: the fluxConfiguration holds the supplied values as protected settings, kept at most 48 hours; a new version of the secret in the vault no longer reaches the cluster.` });
    }
    const name = plan.fluxConfigurationName;
    if (taken.has(name)) {
      const message = `The cluster already has a fluxConfiguration named '${name}': choose another with fluxConfigurationName.`;
      return withItem(message, errors.conflict(message, "fluxConfigurationName"));
    }
    const other = claimed.get(name);
    if (other !== undefined) {
      const message = `The Flux v1 configurations '${other}' and '${record.name}' would both become the fluxConfiguration '${name}': give one another fluxConfigurationName.`;
      return withItem(message, errors.conflict(message, "fluxConfigurationName"));
    }
    claimed.set(name, record.name);
    if (resolved.missing.length > 0) {
      const names = resolved.missing.join(", ");
      const message = `The protected settings ${names} of '${record.name}' are no longer held by the service (kept at most 48 hours): supply them in configurationProtectedSettings (base64, as a sourceControlConfiguration PUT takes them).`;
      return withItem(message, errors.invalidParameter(`configurationProtectedSettings.${resolved.missing[0]}`, message));
    }
    return { found, plan, resolved, item };
  }
}

/** the fluxConfigurations side of the migration, from the Flux v2 domain (its stageMigrated hook) */
export function fluxV2SideOf(repo: Persistence, flux: FluxConfigurations): FluxV2Side {
  return {
    async names(subscriptionId, clusterId) {
      const all = await repo.fluxConfigurations.all(subscriptionId, clusterId);
      return new Set(all.filter((v) => !v.deleted).map((v) => v.record.name.toLowerCase()));
    },
    async stageCreate({ cluster, name, body, submittedAt, actor }) {
      await flux.stageMigrated(fluxConfigurationRef(cluster, name), body.properties as unknown as Record<string, unknown>, actor, submittedAt);
    },
  };
}
