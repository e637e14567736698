/** The service's internal model: one shape for every api-version (converters live at the surface). */

export type CreatedByType = "User" | "Application" | "ManagedIdentity" | "Key";

export interface SystemData {
  createdBy?: string;
  createdByType?: CreatedByType;
  createdAt?: string;
  lastModifiedBy?: string;
  lastModifiedByType?: CreatedByType;
  lastModifiedAt?: string;
}

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
  id: string;
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
}

export interface ConfigurationRecord {
  id: string;
  name: string;
  clusterId: string;
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
}
