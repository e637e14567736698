/** Wire shapes of the agent API (`/agent/v1{clusterId}/...`), exactly as the service sends and expects them. */

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

/** Flux v2 (openapi/agent.json AgentFluxConfiguration): the fluxConfigurations resource's fields, defaults applied */
export interface DesiredFluxKustomization {
  path: string;
  dependsOn?: string[];
  timeoutInSeconds: number;
  syncIntervalInSeconds: number;
  retryIntervalInSeconds?: number;
  prune: boolean;
  force: boolean;
  wait: boolean;
  postBuild?: { substitute?: Record<string, string>; substituteFrom?: { kind: string; name: string; optional?: boolean }[] };
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
  kustomizations: Record<string, DesiredFluxKustomization>;
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

export type FluxComplianceState = "Compliant" | "Non-Compliant" | "Pending" | "Suspended" | "Unknown";

export interface FluxObjectStatus {
  name: string;
  namespace: string;
  kind: string;
  complianceState: FluxComplianceState;
  statusConditions?: { lastTransitionTime?: string; message?: string; reason?: string; status?: string; type?: string }[];
}

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

export interface StatusReport {
  observedGeneration: number;
  complianceState: ComplianceState;
  message?: string;
  messageLevel?: "Error" | "Warning" | "Information";
  lastConfigApplied?: string;
  repositoryPublicKey?: string;
  removed?: boolean;
  protectedSettingsReceived?: boolean;
  /** echoes the desired state's secretVersions of what was applied */
  secretVersions?: Record<string, string>;
}

export interface HeartbeatInfo {
  agentVersion: string;
  kubernetesVersion: string;
  totalNodeCount: number;
}
