/** The service's internal model: one shape for every api-version (converters live at the surface). */
import type { SystemData } from "../arm/system-data.js";
import type { AssignmentId, ClusterId, ConfigurationId, FluxConfigurationId } from "../arm/resource-ids.js";
import type { VaultPrincipal } from "../ports/vault-access.js";
// the agent API's wire shapes that records keep as they arrive or are sent: declared once, in the contract
import type { ComplianceState, FluxComplianceState, FluxKustomization as FluxKustomizationSpec, FluxObjectStatus, MessageLevel } from "../contract/agent-api.js";
export { FLUX_COMPLIANCE_STATES } from "../contract/agent-api.js";
export type { ComplianceState, FluxComplianceState, FluxKustomizationSpec, FluxObjectStatus, MessageLevel };
export type { FluxPostBuild } from "../contract/agent-api.js";

export const SUBSCRIPTION_STATES = ["Registered", "Unregistered", "Warned", "Suspended", "Deleted"] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

export interface SubscriptionRecord {
  subscriptionId: string;
  state: SubscriptionState;
  tenantId?: string;
  registrationDate?: string;
  /** the last notification body, minus PII (accountOwner) */
  properties?: Record<string, unknown>;
}

export type ConnectivityStatus = "Connecting" | "Connected" | "Offline" | "Expired";

export interface ClusterRecord {
  id: ClusterId;
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  tags?: Record<string, string>;
  identity: { type: "SystemAssigned" | "None"; principalId?: string; tenantId?: string };
  properties: {
    agentPublicKeyCertificate: string;
    distribution?: string;
    infrastructure?: string;
    agentVersion?: string;
    kubernetesVersion?: string;
    totalNodeCount?: number;
    totalCoreCount?: number;
    connectivityStatus: ConnectivityStatus;
    lastConnectivityTime?: string;
    provisioningState: "Succeeded" | "Failed" | "Canceled" | "Provisioning" | "Updating" | "Deleting" | "Accepted";
    /** presentation only (never stored): set by the domain when the registered key may no longer be trusted */
    agentKeyStatus?: "Compromised";
    /**
     * service-owned, never shown: fingerprints of agent keys once stored with their private half, never
     * trusted again on this cluster. Kept in properties, which every writer carries over (a PUT handled
     * by an older replica during an upgrade keeps it too).
     */
    compromisedAgentKeys?: string[];
  };
  systemData: SystemData;
}

export interface ComplianceStatus {
  complianceState: ComplianceState;
  lastConfigApplied?: string;
  message?: string;
  messageLevel?: MessageLevel;
}

/** The user-writable properties of a source control configuration (after defaults). */
export interface ConfigurationSpec {
  repositoryUrl: string;
  operatorNamespace: string;
  operatorInstanceName: string;
  operatorType: "Flux";
  operatorParams?: string;
  operatorScope: "cluster" | "namespace";
  enableHelmOperator?: boolean;
  helmOperatorProperties?: { chartVersion?: string; chartValues?: string };
  /** Key Vault secrets instead of values (docs/design/keyvault-references.md); never values themselves */
  keyVaultReferences?: KeyVaultReferences;
  /**
   * Set by the service, never by the caller, never shown: the principal whose right to the vaults the
   * references were accepted under (the caller of the PUT that wrote them: of the configuration, or of
   * the assignment whose configuration this is). The resolver checks it again before every vault read
   * (src/domain/keyvault-trust.ts). Present exactly when keyVaultReferences is.
   */
  keyVaultPrincipal?: VaultPrincipal;
}

/** the settings a Key Vault reference may stand for: the protected settings and known_hosts */
export const SECRET_REFERENCE_SETTINGS = ["sshPrivateKey", "httpsUser", "httpsKey", "sshKnownHostsContents"] as const;
export type SecretReferenceSetting = (typeof SECRET_REFERENCE_SETTINGS)[number];

export interface KeyVaultSecretReference {
  /** /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}, as the caller spelled it */
  keyVaultResourceId: string;
  secretName: string;
  /** absent: the current version, re-read every refresh interval */
  secretVersion?: string;
}

export type KeyVaultReferences = Partial<Record<SecretReferenceSetting, KeyVaultSecretReference>>;

/** what the service last did with a configuration's references (kept in its secrets document; never a value) */
export interface KeyVaultResolution {
  state: "Resolved" | "Failed";
  /** the secret version read per setting (of the values this document holds) */
  resolvedVersions: Partial<Record<SecretReferenceSetting, string>>;
  /** epoch ms of the read that gave the values held */
  resolvedAt?: number;
  /** why the last read failed: vault, secret, cause */
  message?: string;
  /** consecutive failed reads, and when the next may be tried (backoff) */
  attempts?: number;
  nextAttemptAt?: number;
}

export interface ConfigurationRecord {
  id: ConfigurationId;
  name: string;
  clusterId: ClusterId;
  spec: ConfigurationSpec;
  /** bumped on every accepted PUT (and on delete): what the cluster agent converges on */
  generation: number;
  repositoryPublicKey?: string;
  provisioningState: "Accepted" | "Deleting" | "Running" | "Succeeded" | "Failed";
  complianceStatus: ComplianceStatus;
  /** whether a secrets sidecar exists and what it holds (names only, never values) */
  secrets: {
    protectedSettingKeys: string[];
    hasKnownHosts: boolean;
    /** names the secrets document written with this record: a sidecar with another version is not this record's */
    version?: string;
  };
  /** when the cluster agent acknowledged receiving this generation's secrets */
  secretsDelivered?: { generation: number; at: string };
  /** the generation the agent's last accepted report was about: complianceStatus describes it */
  observedGeneration?: number;
  /** the id of the configuration assignment that created this configuration and keeps it (absent: a user's) */
  managedBy?: AssignmentId;
  /** the Key Vault secret versions the cluster agent reported applying for this generation */
  appliedSecretVersions?: Partial<Record<SecretReferenceSetting, string>>;
  /** set by the Key Vault resolver while it cannot read the references (vault, secret, cause; never a value) */
  keyVaultFailure?: string;
  systemData: SystemData;
}

export const PROTECTED_SETTING_KEYS = ["sshPrivateKey", "httpsUser", "httpsKey"] as const;
export type ProtectedSettingKey = (typeof PROTECTED_SETTING_KEYS)[number];

/** The sidecar: sensitive inputs, stored apart from the resource record. */
export interface ConfigurationSecrets {
  protectedSettings: Partial<Record<ProtectedSettingKey, string>>;
  sshKnownHostsContents?: string;
  /** epoch ms of the PUT that submitted these values (retention is measured from it) */
  submittedAt: number;
  /** the version of the record that points at these secrets */
  version?: string;
  /** for Key Vault references: the state of their resolution (the values above, when any, are what was read) */
  keyVault?: KeyVaultResolution;
}

// configuration assignments (issue #6) ----------------------------------------------------------

export const ENFORCEMENT_MODES = ["Default", "DoNotEnforce"] as const;
export type EnforcementMode = (typeof ENFORCEMENT_MODES)[number];

/** the selector's meaning is owned by cluster-selector.ts */
export type { ClusterSelector } from "./cluster-selector.js";
import type { ClusterSelector } from "./cluster-selector.js";

export interface AssignmentSpec {
  /** the configuration name on each cluster (a sourceControlConfiguration, or a fluxConfiguration lower-cased); fixed at creation */
  configurationName: string;
  /** Flux v1: the sourceControlConfiguration created on each cluster (exactly one of this and fluxConfiguration) */
  configuration?: ConfigurationSpec;
  /** Flux v2 (issue #16): the fluxConfiguration created on each cluster; a cluster holding this assignment's v1 configuration is migrated */
  fluxConfiguration?: FluxConfigurationSpec;
  clusterSelector?: ClusterSelector;
  enforcementMode: EnforcementMode;
  /** staged rollout (issue #15): absent, every matching cluster gets a new generation at once */
  rolloutPolicy?: RolloutPolicy;
}

/** what a stage's gate asks of its clusters (rollout-policy.ts owns the arithmetic); stored with defaults filled in */
export interface RolloutGates {
  /** share (0-100) of the stage's clusters that must report Installed for the new generation */
  minInstalledPercentage: number;
  /** ISO 8601 duration from the stage's opening within which the share must be reached */
  progressDeadline: string;
  /** at most this many clusters may report Failed (absent with maxFailurePercentage absent: 0) */
  maxFailures?: number;
  /** at most this share (0-100) of the stage's clusters may report Failed */
  maxFailurePercentage?: number;
}

export interface RolloutStage {
  name: string;
  /** the stage takes the remaining clusters these criteria select (the clusterSelector shape) ... */
  clusterSelector?: ClusterSelector;
  /** ... or this share (1-100) of the remaining clusters, in a stable order */
  percentage?: number;
  /** ISO 8601 duration the stage must stay healthy after its gate is met before the next one opens */
  bakeTime: string;
  gates: RolloutGates;
}

export interface RolloutPolicy {
  stages: RolloutStage[];
}

export const STAGE_STATES = ["NotStarted", "Applying", "Waiting", "Baking", "Passed", "Failed"] as const;
export type StageState = (typeof STAGE_STATES)[number];

export interface StageStatus {
  name: string;
  state: StageState;
  /** clusters of the stage the new generation targets (frozen at the start, plus those that joined) */
  clustersTotal: number;
  /** with the new generation's configuration written */
  applied: number;
  /** whose agent reported Installed (or Compliant) for it */
  installed: number;
  failed: number;
  openedAt?: string;
  /** when the gate was first met (the bake time runs from here) */
  gateMetAt?: string;
  passedAt?: string;
  failedAt?: string;
  /** why the stage failed, or what it waits for */
  message?: string;
  /** a bounded sample of the failing clusters, with their agents' messages */
  failingClusters?: Array<{ clusterId: string; message: string }>;
}

/** a stage's frozen membership: a share-of-the-rest stage takes the clusters whose stable hash is at most this */
export interface StagePlan {
  hashAtMost?: number;
}

/** a halt, pending resume, resume or rollback request: the newest is kept on the record, the reconciler acts on it once */
export interface RolloutAction {
  operationId: string;
  kind: "halt" | "resume" | "rollback";
  /** the assignment generation it concerns (a rollback's: the generation it created) */
  generation: number;
  /** increasing per assignment: the status records the last one it acted on */
  seq: number;
  at: string;
  /** the caller's reason, if given (a halt's is shown in the halt message) */
  reason?: string;
}

export interface AssignmentRecord {
  id: AssignmentId;
  name: string;
  subscriptionId: string;
  /** absent for an assignment at subscription scope */
  resourceGroup?: string;
  spec: AssignmentSpec;
  /** bumped whenever the spec changes, and by the deletion: what a rollout converges on */
  generation: number;
  /** set by DELETE: the rollout then removes every managed configuration, and the assignment goes */
  deletion?: { operationId: string; requestedAt: string };
  /**
   * The spec of the last generation whose rollout completed: what clusters of stages not yet opened
   * keep (and get, when they join), and what `rollback` restores. Absent before a first completion.
   */
  previous?: AssignmentSpec;
  /** set on a generation made by `rollback`: rolled out to every cluster at once, not in stages */
  rollbackOf?: number;
  /** the latest halt/resume/rollback requests, newest last (at most 5: their operation results are answered from here) */
  actions?: RolloutAction[];
  systemData: SystemData;
}

export const ASSIGNMENT_COMPLIANCE_STATES = ["Compliant", "Pending", "NonCompliant", "Failed"] as const;
export type AssignmentComplianceState = (typeof ASSIGNMENT_COMPLIANCE_STATES)[number];

export interface ComplianceSummary {
  totalClusters: number;
  compliant: number;
  pending: number;
  nonCompliant: number;
  failed: number;
  evaluatedAt: string;
}

/** what the reconciler keeps about an assignment, apart from the user's document (no etag contention) */
export interface AssignmentStatus {
  /** the assignment generation being (or last) rolled out */
  generation: number;
  state: "InProgress" | "Completed" | "Halted";
  /** store continuation after the last cluster processed: where a restarted rollout resumes */
  cursor?: string;
  clustersProcessed: number;
  /** clusters that could not be applied (logged; the outbox or the next rollout tries them again) */
  clustersFailed?: number;
  /** clusters in the scope when the rollout started */
  clustersTotal: number;
  startedAt: string;
  completedAt?: string;
  complianceSummary?: ComplianceSummary;
  /** staged rollouts: one per stage of the policy, the index of the open one, the frozen membership */
  stages?: StageStatus[];
  currentStage?: number;
  plan?: StagePlan[];
  /** why the rollout is Halted: a failed gate or a user's halt */
  halted?: { reason: "Gate" | "User"; at: string; stage?: string; message: string };
  /** the seq of the last action (halt, resume) the reconciler acted on */
  actionSeen?: number;
  /** the generation a rollback rolled back from */
  rolledBackFrom?: number;
}

// Flux v2 fluxConfigurations (issue #16) -----------------------------------------------------------

export const FLUX_SOURCE_KINDS = ["GitRepository", "Bucket", "AzureBlob", "OCIRepository"] as const;
export type FluxSourceKind = (typeof FLUX_SOURCE_KINDS)[number];
/** the source kinds this service delivers today (the others are refused with a 400 naming them) */
export const SUPPORTED_FLUX_SOURCE_KINDS: readonly FluxSourceKind[] = ["GitRepository"];

/** which revision of the repository Flux checks out (precedence: commit > semver > tag > branch, as Flux v2) */
export interface FluxRepositoryRef {
  branch?: string;
  tag?: string;
  semver?: string;
  commit?: string;
}

export interface FluxGitRepositorySpec {
  url: string;
  timeoutInSeconds: number;
  syncIntervalInSeconds: number;
  repositoryRef?: FluxRepositoryRef;
  /** plain text, as Flux v2 has it (v1 kept it protected) */
  httpsUser?: string;
  /** base64 PEM of the CA that signs the Git server's certificate (public: returned) */
  httpsCACert?: string;
  /** a secret already on the cluster, used instead of the protected settings */
  localAuthRef?: string;
  provider?: "Azure" | "Generic";
}

/** The user-writable properties of a fluxConfiguration (after defaults). */
export interface FluxConfigurationSpec {
  scope: "cluster" | "namespace";
  namespace: string;
  sourceKind: "GitRepository";
  suspend: boolean;
  gitRepository: FluxGitRepositorySpec;
  /** by kustomization name (the map key) */
  kustomizations: Record<string, FluxKustomizationSpec>;
  waitForReconciliation?: boolean;
  reconciliationWaitDuration?: string;
}

/** what the cluster reported about a generation of a fluxConfiguration */
export interface FluxComplianceReport {
  complianceState: FluxComplianceState;
  statuses: FluxObjectStatus[];
  sourceSyncedCommitId?: string;
  sourceUpdatedAt?: string;
  statusUpdatedAt?: string;
  errorMessage?: string;
}

export type FluxProvisioningState = "Succeeded" | "Failed" | "Canceled" | "Creating" | "Updating" | "Deleting";

export interface FluxConfigurationRecord {
  id: FluxConfigurationId;
  name: string;
  clusterId: ClusterId;
  spec: FluxConfigurationSpec;
  /** bumped on every accepted write (and on delete): what the cluster agent converges on */
  generation: number;
  provisioningState: FluxProvisioningState;
  compliance: FluxComplianceReport;
  repositoryPublicKey?: string;
  /** as for v1 configurations: names only, never values; known_hosts is kept with the protected settings (48 hours) */
  secrets: { protectedSettingKeys: string[]; hasKnownHosts: boolean; version?: string };
  secretsDelivered?: { generation: number; at: string };
  observedGeneration?: number;
  /** the asynchronous operation of the last write (its status is served at .../operations/{id}); set on delete while it runs */
  operation: {
    id: string;
    kind: "create" | "update" | "delete";
    startedAt: string;
    /** waitForReconciliation: how the write's operation ended, set by the agent's first conclusive report of its generation within the wait */
    settled?: { status: "Succeeded" | "Failed"; at: string; error?: { code: string; message: string } };
  };
  /** the id of the configuration assignment that created this fluxConfiguration and keeps it (absent: a user's) */
  managedBy?: AssignmentId;
  systemData: SystemData;
}
