/**
 * Flux v1 -> Flux v2: what a sourceControlConfiguration becomes as a fluxConfiguration (issue #16, part 2).
 * Pure: no store, no clock. `planMigration` maps the record (its spec, its operatorParams parsed by the very
 * parser the PUT used) to a fluxConfiguration body per docs/design/flux-v2.md and
 * ../shared/reference/flux-v2-mapping.md, with a warning for everything that does not carry over.
 * `resolveSecrets` then says, for the protected settings the v1 configuration was written with, which the
 * service still holds (carried over), which the caller supplied and which are missing; `bodyWithSecrets`
 * builds the body actually created. The body a caller is shown (`plan.body`) never holds a secret: no
 * protected setting, and no `gitRepository.httpsUser` (a v1 protected setting that v2 shows in plain text).
 */
import { decodeBase64Strict } from "./validation/base64.js";
import { parseOperatorParams, type OperatorFlag } from "./validation/operator-params.js";
import { PROTECTED_SETTING_KEYS, type ConfigurationRecord, type ConfigurationSecrets, type ProtectedSettingKey } from "./types.js";

/** Flux v1 daemon defaults (fluxcd/flux docs/references/daemon.md): carried explicitly, v2's defaults differ */
export const FLUX_V1_DEFAULTS = {
  branch: "master",
  gitPollIntervalSeconds: 300,
  gitTimeoutSeconds: 20,
  syncIntervalSeconds: 300,
  syncTimeoutSeconds: 60,
} as const;

/** a Flux v2 object is named `<configuration>-<kustomization>`, 62 characters at most together */
export const FLUX_V2_OBJECT_NAME_MAX = 62;

export const MIGRATION_WARNING_CODES = [
  "NoV2Equivalent",
  "GitReadOnly",
  "ManifestGeneration",
  "HelmOperator",
  "HttpsUserInPlainText",
  "ImageAutomation",
  "GarbageCollectionDryRun",
  "OperatorInstanceName",
  "KnownHostsNotHeld",
  "ServerSideApply",
  "RepositoryUrlRewritten",
  "ClusterStillHasFluxV1",
  "KeyVaultReferencesDropped",
] as const;
export type MigrationWarningCode = (typeof MIGRATION_WARNING_CODES)[number];

export interface MigrationWarning {
  code: MigrationWarningCode;
  message: string;
  /** the v1 flag or property the warning is about */
  source?: string;
}

export interface KustomizationBody {
  path: string;
  syncIntervalInSeconds: number;
  timeoutInSeconds: number;
  prune: boolean;
  dependsOn?: string[];
}

export interface GitRepositoryBody {
  url: string;
  repositoryRef: { branch: string };
  syncIntervalInSeconds: number;
  timeoutInSeconds: number;
  sshKnownHosts?: string;
  httpsUser?: string;
}

/** the writable part of a fluxConfiguration PUT body this mapping produces (official 2024-11-01 shape) */
export interface FluxConfigurationBody {
  properties: {
    scope: "cluster" | "namespace";
    namespace: string;
    sourceKind: "GitRepository";
    suspend: boolean;
    gitRepository: GitRepositoryBody;
    kustomizations: Record<string, KustomizationBody>;
    configurationProtectedSettings?: Record<string, string>;
  };
}

export interface MigrationPlan {
  /** the v1 configuration's name */
  sourceName: string;
  fluxConfigurationName: string;
  /** what will be created, minus every secret (safe to show, log and write to a file) */
  body: FluxConfigurationBody;
  /** the protected settings the v1 configuration was written with (names only) */
  protectedSettingKeys: ProtectedSettingKey[];
  /** whether the v1 configuration was written with known_hosts */
  hadKnownHosts: boolean;
  warnings: MigrationWarning[];
}

/** Go duration ("30s", "5m", "1h30m", "0.5m", "500ms") in whole seconds, rounded up, at least 1 */
export function goDurationSeconds(value: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(n) * (units[unit as string] ?? 0);
  return Math.max(1, Math.ceil(total - 1e-9));
}

const NO_EQUIVALENT: Readonly<Record<string, string>> = {
  "git-label": "Flux v1 moved this Git tag to mark the last synced commit; Flux v2 does not write to Git (the applied revision shows in the configuration's sourceSyncedCommitId).",
  "git-sync-tag": "Flux v1 moved this Git tag to mark the last synced commit; Flux v2 does not write to Git (the applied revision shows in the configuration's sourceSyncedCommitId).",
  "git-notes-ref": "Flux v1 wrote Git notes under this ref; Flux v2 does not write to Git.",
  "git-user": "Flux v1 committed to Git as this user; Flux v2 does not write to Git.",
  "git-email": "Flux v1 committed to Git with this e-mail; Flux v2 does not write to Git.",
  "git-set-author": "Flux v1 set the author of its commits; Flux v2 does not write to Git.",
  "git-ci-skip": "Flux v1 marked its commits to skip CI; Flux v2 does not write to Git.",
  "git-ci-skip-message": "Flux v1 marked its commits to skip CI; Flux v2 does not write to Git.",
  "git-verify-signatures": "fluxConfigurations have no commit signature verification for Git sources: commits are no longer verified.",
  "sync-state": "Flux v2 keeps its sync state in the Kustomization's status; the setting is dropped.",
};

const IMAGE_AUTOMATION = new Set(["registry-disable-scanning", "registry-poll-interval", "registry-exclude-image"]);

/** Flux v2 takes SSH URLs as ssh://user@host/path only: the scp-like user@host:path of v1 is rewritten */
export function fluxV2RepositoryUrl(url: string): { url: string; rewritten: boolean } | { problem: string } {
  if (/^http:\/\//i.test(url)) return { problem: "Flux v2 repository URLs must use https:// or ssh:// (plain http would send credentials in clear): change the v1 configuration's repositoryUrl to https:// first, or create the fluxConfiguration yourself" };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return { url, rewritten: false };
  const scp = /^([^@/:]+@)?([^/:]+):(.*)$/.exec(url);
  if (!scp) return { url, rewritten: false };
  const [, user = "", host = "", path = ""] = scp;
  return { url: `ssh://${user}${host}/${path.replace(/^\/+/, "")}`, rewritten: true };
}

/** a kustomization name for the n-th --git-path (1-based), valid as the suffix of a Flux v2 object name */
function kustomizationName(configurationName: string, index: number, count: number): string {
  const base = count === 1 ? "kustomization" : `kustomization-${index}`;
  // the objects are named <configuration>-<kustomization>: keep the pair within 62 characters
  const room = FLUX_V2_OBJECT_NAME_MAX - configurationName.length - 1;
  return base.length <= room ? base : count === 1 ? "k" : `k${index}`;
}

/**
 * The fluxConfiguration a v1 configuration becomes, with the warnings. The record passed the v1 PUT's rules,
 * so its operatorParams parse; should they not (a record written by an older rule set), the plan says so
 * instead of guessing.
 */
export function planMigration(record: ConfigurationRecord, options: { fluxConfigurationName?: string } = {}): MigrationPlan | { problem: string } {
  const spec = record.spec;
  const parsed = parseOperatorParams(spec.operatorParams ?? "");
  if (!parsed.ok) return { problem: `The operator parameters of ${record.name} cannot be mapped: ${parsed.problem}.` };
  const flags = new Map<string, OperatorFlag>(parsed.flags.map((f) => [f.name, f]));
  const value = (name: string): string | undefined => flags.get(name)?.value;
  const on = (name: string): boolean => /^true$/i.test(value(name) ?? "false");
  const warnings: MigrationWarning[] = [];
  const fluxConfigurationName = options.fluxConfigurationName ?? record.name.toLowerCase();

  const paths = (value("git-path") ?? "").split(",").filter((p) => p.length > 0);
  const kustomizationPaths = paths.length > 0 ? paths : [""];
  const syncInterval = value("sync-interval") ? goDurationSeconds(value("sync-interval") as string) : FLUX_V1_DEFAULTS.syncIntervalSeconds;
  const syncTimeout = value("sync-timeout") ? goDurationSeconds(value("sync-timeout") as string) : FLUX_V1_DEFAULTS.syncTimeoutSeconds;
  const prune = on("sync-garbage-collection");
  const kustomizations: Record<string, KustomizationBody> = {};
  kustomizationPaths.forEach((p, i) => {
    kustomizations[kustomizationName(fluxConfigurationName, i + 1, kustomizationPaths.length)] = {
      path: p === "" ? "./" : `./${p.replace(/^\.\//, "")}`,
      syncIntervalInSeconds: syncInterval,
      timeoutInSeconds: syncTimeout,
      prune,
    };
  });

  const repository = fluxV2RepositoryUrl(spec.repositoryUrl);
  if ("problem" in repository) return { problem: `The Flux v1 configuration '${record.name}' cannot be migrated as it is: ${repository.problem}.` };
  if (repository.rewritten) {
    warnings.push({ code: "RepositoryUrlRewritten", source: "repositoryUrl", message: `Flux v2 takes SSH repository URLs as ssh://user@host/path: ${spec.repositoryUrl} becomes ${repository.url}.` });
  }
  const gitRepository: GitRepositoryBody = {
    url: repository.url,
    repositoryRef: { branch: value("git-branch") ?? FLUX_V1_DEFAULTS.branch },
    syncIntervalInSeconds: value("git-poll-interval") ? goDurationSeconds(value("git-poll-interval") as string) : FLUX_V1_DEFAULTS.gitPollIntervalSeconds,
    timeoutInSeconds: value("git-timeout") ? goDurationSeconds(value("git-timeout") as string) : FLUX_V1_DEFAULTS.gitTimeoutSeconds,
  };

  for (const flag of parsed.flags) {
    const why = NO_EQUIVALENT[flag.name];
    if (why) warnings.push({ code: "NoV2Equivalent", source: `--${flag.name}`, message: `--${flag.name} has no Flux v2 equivalent and is not carried over: ${why}` });
  }
  if (on("git-readonly")) {
    warnings.push({ code: "GitReadOnly", source: "--git-readonly", message: "--git-readonly has no Flux v2 flag: Flux v2 never writes to Git, so the configuration stays read-only." });
  }
  if (on("sync-garbage-collection-dry")) {
    warnings.push({ code: "GarbageCollectionDryRun", source: "--sync-garbage-collection-dry", message: "--sync-garbage-collection-dry has no Flux v2 equivalent: kustomizations prune or do not (prune is " + String(prune) + "), and nothing only logs what it would delete." });
  }
  if (on("manifest-generation")) {
    warnings.push({ code: "ManifestGeneration", source: "--manifest-generation", message: "Flux v2 does not read .flux.yaml: manifests are built by kustomize (a kustomization.yaml is generated when a path has none). Remove .flux.yaml from the repository and replace its generators with kustomize or Helm." });
  }
  const imageFlags = parsed.flags.filter((f) => IMAGE_AUTOMATION.has(f.name)).map((f) => `--${f.name}`);
  if (imageFlags.length > 0) {
    warnings.push({ code: "ImageAutomation", source: imageFlags.join(" "), message: `${imageFlags.join(", ")} configured Flux v1's image registry scanning; fluxConfigurations do not install Flux v2 image automation, so automated image updates stop.` });
  }
  if (spec.enableHelmOperator) {
    const props = spec.helmOperatorProperties;
    const dropped = props?.chartVersion || props?.chartValues ? " helmOperatorProperties (chart version and values) are not carried over: the helm-controller comes with the Flux v2 extension." : "";
    warnings.push({ code: "HelmOperator", source: "enableHelmOperator", message: `Helm operator releases must be converted: HelmRelease objects in the repository move from helm.fluxcd.io/v1 to helm.toolkit.fluxcd.io/v2 (with a HelmRepository or GitRepository source); the Helm operator is removed with the v1 configuration.${dropped}` });
  }
  if (spec.operatorInstanceName !== record.name.toLowerCase()) {
    warnings.push({ code: "OperatorInstanceName", source: "operatorInstanceName", message: `Flux v2 has no operator instance: the objects are named ${fluxConfigurationName}-<kustomization> in namespace ${spec.operatorNamespace}, not ${spec.operatorInstanceName}.` });
  }
  const keys = PROTECTED_SETTING_KEYS.filter((k) => record.secrets.protectedSettingKeys.includes(k));
  if (keys.includes("httpsUser")) {
    warnings.push({ code: "HttpsUserInPlainText", source: "configurationProtectedSettings.httpsUser", message: "Flux v2 keeps the HTTPS user name in gitRepository.httpsUser and returns it in plain text, where Flux v1 kept it protected. Only the key (httpsKey) stays protected." });
  }
  warnings.push({ code: "ServerSideApply", message: "Flux v2 applies each kustomization server-side as a whole: one invalid object blocks its kustomization, where Flux v1 applied what it could." });

  return {
    sourceName: record.name,
    fluxConfigurationName,
    body: {
      properties: {
        scope: spec.operatorScope,
        namespace: spec.operatorNamespace,
        sourceKind: "GitRepository",
        suspend: false,
        gitRepository,
        kustomizations,
      },
    },
    protectedSettingKeys: keys,
    hadKnownHosts: record.secrets.hasKnownHosts,
    warnings,
  };
}

export interface ResolvedSecrets {
  /** held by the service and carried over (their original submission time goes with them) */
  carried: ProtectedSettingKey[];
  /** taken from the caller's body */
  supplied: ProtectedSettingKey[];
  /** neither: the migration cannot proceed until the caller supplies them */
  missing: ProtectedSettingKey[];
  /** the v1 protected settings the v2 configuration is created with (still base64, as v1 took them) */
  settings: Partial<Record<ProtectedSettingKey, string>>;
  sshKnownHostsContents?: string;
  /** epoch ms the carried values were first submitted (undefined when nothing is carried) */
  submittedAt?: number;
}

/**
 * Which protected settings come from where. `held` is the v1 configuration's live secrets (undefined when
 * purged or never written); `supplied` the caller's (base64, as a v1 PUT takes them). A supplied value wins
 * over a held one; a supplied key the v1 configuration did not have is taken too.
 */
export function resolveSecrets(plan: MigrationPlan, held: ConfigurationSecrets | undefined, supplied: Partial<Record<ProtectedSettingKey, string>> = {}, suppliedKnownHosts?: string): ResolvedSecrets {
  const carried: ProtectedSettingKey[] = [];
  const fromCaller: ProtectedSettingKey[] = [];
  const missing: ProtectedSettingKey[] = [];
  const settings: Partial<Record<ProtectedSettingKey, string>> = {};
  const wanted = PROTECTED_SETTING_KEYS.filter((k) => plan.protectedSettingKeys.includes(k) || supplied[k] !== undefined);
  for (const key of wanted) {
    const given = supplied[key];
    const kept = held?.protectedSettings[key];
    if (given !== undefined) {
      settings[key] = given;
      fromCaller.push(key);
    } else if (kept !== undefined) {
      settings[key] = kept;
      carried.push(key);
    } else missing.push(key);
  }
  const sshKnownHostsContents = suppliedKnownHosts ?? held?.sshKnownHostsContents;
  const carriedKnownHosts = suppliedKnownHosts === undefined && held?.sshKnownHostsContents !== undefined;
  return {
    carried,
    supplied: fromCaller,
    missing,
    settings,
    ...(sshKnownHostsContents !== undefined ? { sshKnownHostsContents } : {}),
    ...(carried.length > 0 || carriedKnownHosts ? { submittedAt: held?.submittedAt } : {}),
  };
}

/** the warning a plan gains when the v1 known_hosts are no longer held and none was supplied */
export function knownHostsWarning(plan: MigrationPlan, resolved: ResolvedSecrets): MigrationWarning | undefined {
  if (!plan.hadKnownHosts || resolved.sshKnownHostsContents !== undefined) return undefined;
  return { code: "KnownHostsNotHeld", source: "sshKnownHostsContents", message: "The v1 known_hosts were purged after 48 hours and are not carried over: Flux v2 uses the well-known hosts' keys unless sshKnownHostsContents is supplied in the migration's body." };
}

/**
 * The body actually created: the plan's plus the secrets. v1's httpsUser (base64, protected) becomes v2's
 * plain-text gitRepository.httpsUser; sshPrivateKey and httpsKey stay protected settings (base64 in both).
 */
export function bodyWithSecrets(plan: MigrationPlan, resolved: ResolvedSecrets): FluxConfigurationBody {
  const props = plan.body.properties;
  const gitRepository: GitRepositoryBody = { ...props.gitRepository };
  if (resolved.sshKnownHostsContents !== undefined) gitRepository.sshKnownHosts = resolved.sshKnownHostsContents;
  const user = resolved.settings.httpsUser;
  if (user !== undefined) gitRepository.httpsUser = decodeBase64Strict(user)?.toString("utf8") ?? user;
  const protectedSettings: Record<string, string> = {};
  if (resolved.settings.sshPrivateKey !== undefined) protectedSettings.sshPrivateKey = resolved.settings.sshPrivateKey;
  if (resolved.settings.httpsKey !== undefined) protectedSettings.httpsKey = resolved.settings.httpsKey;
  return {
    properties: {
      ...props,
      gitRepository,
      ...(Object.keys(protectedSettings).length > 0 ? { configurationProtectedSettings: protectedSettings } : {}),
    },
  };
}

/** the body a caller is shown (whatIf, the CLI's files): the created one minus every v1 protected value */
export function shownBody(plan: MigrationPlan, resolved: ResolvedSecrets): FluxConfigurationBody {
  const created = bodyWithSecrets(plan, resolved);
  const { httpsUser: _user, ...gitRepository } = created.properties.gitRepository;
  const { configurationProtectedSettings: _settings, ...rest } = created.properties;
  return { properties: { ...rest, gitRepository } };
}
