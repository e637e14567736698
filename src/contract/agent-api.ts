/**
 * Wire shapes of the agent API (`/agent/v1{clusterId}/...`, openapi/agent.json), exactly as the service sends and
 * expects them: the reference agent (src/agent) builds and reads them, the service (src/domain) serves and accepts
 * them, and stores some of them as they arrive (a report's states, a kustomization as it is sent). Types only,
 * plus the one list a report is checked against (FLUX_COMPLIANCE_STATES).
 */

export type OperatorScope = "cluster" | "namespace";

export interface DesiredConfigurationProperties {
  repositoryUrl: string;
  operatorNamespace: string;
  operatorInstanceName: string;
  operatorType: string;
  operatorParams?: string;
  operatorScope: OperatorScope;
  enableHelmOperator?: boolean;
  helmOperatorProperties?: { chartVersion?: string; chartValues?: string };
}

export interface DesiredConfiguration {
  name: string;
  id: string;
  generation: number;
  deleted: boolean;
  properties: DesiredConfigurationProperties;
  /** JWE compact serialization sealed to the agent's public key */
  protectedSettings?: string;
  /** secrets from Key Vault: the version of each sealed setting; a change without a new generation is a rotation */
  secretVersions?: Record<string, string>;
}

export interface DesiredState {
  generation: number;
  pollIntervalSeconds: number;
  configurations: DesiredConfiguration[];
  /** Flux v2 fluxConfigurations (absent when the cluster has none, and from older services) */
  fluxConfigurations?: DesiredFluxConfiguration[];
}

/** Flux v2 `postBuild` of a kustomization: variables substituted into the manifests, inline or from objects on the cluster */
export interface FluxPostBuild {
  substitute?: Record<string, string>;
  substituteFrom?: { kind: "ConfigMap" | "Secret"; name: string; optional: boolean }[];
}

/** Flux v2 (openapi/agent.json AgentFluxConfiguration): one kustomization of a fluxConfiguration, defaults applied (the service stores it so) */
export interface FluxKustomization {
  path: string;
  dependsOn?: string[];
  timeoutInSeconds: number;
  syncIntervalInSeconds: number;
  retryIntervalInSeconds?: number;
  prune: boolean;
  force: boolean;
  wait: boolean;
  postBuild?: FluxPostBuild;
}

export interface DesiredFluxConfigurationProperties {
  scope: OperatorScope;
  namespace: string;
  sourceKind: string;
  suspend: boolean;
  gitRepository: {
    url: string;
    timeoutInSeconds: number;
    syncIntervalInSeconds: number;
    repositoryRef?: { branch?: string; tag?: string; semver?: string; commit?: string };
    httpsUser?: string;
    httpsCACert?: string;
    localAuthRef?: string;
  };
  kustomizations: Record<string, FluxKustomization>;
}

export interface DesiredFluxConfiguration {
  name: string;
  id: string;
  generation: number;
  deleted: boolean;
  properties: DesiredFluxConfigurationProperties;
  /** JWE compact serialization sealed to the agent's public key: {protectedSettings: {sshPrivateKey?, httpsKey?}, sshKnownHostsContents?} */
  protectedSettings?: string;
}

export const FLUX_COMPLIANCE_STATES = ["Compliant", "Non-Compliant", "Pending", "Suspended", "Unknown"] as const;
export type FluxComplianceState = (typeof FLUX_COMPLIANCE_STATES)[number];

/** one Flux object's state on the cluster, as the agent reports it (the statuses[] of the resource) */
export interface FluxObjectStatus {
  name: string;
  namespace: string;
  kind: string;
  complianceState: FluxComplianceState;
  appliedBy?: { name: string; namespace: string };
  statusConditions?: { lastTransitionTime?: string; message?: string; reason?: string; status?: string; type?: string }[];
}

/** what the agent reports about one fluxConfiguration */
export interface FluxStatusReport {
  observedGeneration: number;
  complianceState: FluxComplianceState;
  statuses?: FluxObjectStatus[];
  sourceSyncedCommitId?: string;
  sourceUpdatedAt?: string;
  errorMessage?: string;
  repositoryPublicKey?: string;
  removed?: boolean;
  protectedSettingsReceived?: boolean;
}

/** Plaintext of the `protectedSettings` JWE. Values stay base64, as the service holds them. */
export interface UnsealedSettings {
  protectedSettings: { sshPrivateKey?: string; httpsUser?: string; httpsKey?: string };
  sshKnownHostsContents?: string;
}

export type ComplianceState = "Pending" | "Installed" | "Failed" | "Compliant" | "Noncompliant";
export type MessageLevel = "Error" | "Warning" | "Information";

/** what the agent reports about one Flux v1 configuration (it becomes the resource's complianceStatus) */
export interface StatusReport {
  observedGeneration: number;
  complianceState: ComplianceState;
  message?: string;
  messageLevel?: MessageLevel;
  lastConfigApplied?: string;
  repositoryPublicKey?: string;
  removed?: boolean;
  protectedSettingsReceived?: boolean;
  /** Key Vault references: echoes the desired state's secretVersions of what was applied (the version of each setting) */
  secretVersions?: Record<string, string>;
}

export interface Heartbeat {
  agentVersion: string;
  kubernetesVersion: string;
  totalNodeCount: number;
}
