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
