/** The service's internal model: one shape for every api-version (converters live at the surface). */
import type { SystemData } from "../arm/system-data.js";
import type { AssignmentId, ClusterId, ConfigurationId } from "../arm/resource-ids.js";

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

export type ComplianceState = "Pending" | "Compliant" | "Noncompliant" | "Installed" | "Failed";
export type MessageLevel = "Error" | "Warning" | "Information";

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
  /** the sourceControlConfiguration name created on each cluster; fixed at creation */
  configurationName: string;
  configuration: ConfigurationSpec;
  clusterSelector?: ClusterSelector;
  enforcementMode: EnforcementMode;
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
  state: "InProgress" | "Completed";
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
}
