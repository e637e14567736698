/**
 * The pure rules of configuration assignments: which clusters an assignment applies to, what it wants
 * on each, and how each cluster complies. The reconciler, the compliance results and the summary all
 * use these, so what is enforced and what is reported cannot disagree.
 */
import { configurationId, keyOf, type ClusterId, type ClusterKey, type ConfigurationId } from "../arm/resource-ids.js";
import * as ClusterSelectors from "./cluster-selector.js";
import { SECRET_REFERENCE_SETTINGS, type AssignmentComplianceState, type AssignmentRecord, type ClusterRecord, type ConfigurationRecord, type ConfigurationSpec, type KeyVaultReferences } from "./types.js";

/** the cluster is in the assignment's scope (its subscription, or its resource group) */
export function inScope(assignment: AssignmentRecord, cluster: ClusterRecord): boolean {
  if (cluster.subscriptionId.toLowerCase() !== assignment.subscriptionId.toLowerCase()) return false;
  return assignment.resourceGroup === undefined || cluster.resourceGroup.toLowerCase() === assignment.resourceGroup.toLowerCase();
}

/** the assignment applies to this cluster now (a deleting assignment applies to none) */
export function matches(assignment: AssignmentRecord, cluster: ClusterRecord): boolean {
  return assignment.deletion === undefined && inScope(assignment, cluster) && ClusterSelectors.matches(assignment.spec.clusterSelector, cluster);
}

export const managedConfigurationId = (assignment: AssignmentRecord, cluster: Pick<ClusterRecord, "id">): ConfigurationId =>
  configurationId(cluster.id, assignment.spec.configurationName);

export const isManagedBy = (record: ConfigurationRecord, assignment: Pick<AssignmentRecord, "id">): boolean =>
  record.managedBy !== undefined && keyOf(record.managedBy) === keyOf(assignment.id);

/** field by field, so that key order or an absent optional never counts as a difference */
export function sameSpec(a: ConfigurationSpec, b: ConfigurationSpec): boolean {
  return (
    a.repositoryUrl === b.repositoryUrl &&
    a.operatorNamespace === b.operatorNamespace &&
    a.operatorInstanceName === b.operatorInstanceName &&
    a.operatorType === b.operatorType &&
    a.operatorParams === b.operatorParams &&
    a.operatorScope === b.operatorScope &&
    a.enableHelmOperator === b.enableHelmOperator &&
    a.helmOperatorProperties?.chartVersion === b.helmOperatorProperties?.chartVersion &&
    a.helmOperatorProperties?.chartValues === b.helmOperatorProperties?.chartValues &&
    sameReferences(a.keyVaultReferences, b.keyVaultReferences) &&
    // the references rest on this principal's right (keyvault-trust.ts): another author rewrites them
    a.keyVaultPrincipal?.objectId === b.keyVaultPrincipal?.objectId &&
    a.keyVaultPrincipal?.tenantId === b.keyVaultPrincipal?.tenantId &&
    a.keyVaultPrincipal?.appId === b.keyVaultPrincipal?.appId &&
    a.keyVaultPrincipal?.kind === b.keyVaultPrincipal?.kind
  );
}

/** the same Key Vault references (ids and names compared as Key Vault and ARM do: case-insensitively) */
function sameReferences(a: KeyVaultReferences | undefined, b: KeyVaultReferences | undefined): boolean {
  return SECRET_REFERENCE_SETTINGS.every((k) => {
    const x = a?.[k];
    const y = b?.[k];
    if (!x || !y) return x === y;
    return x.keyVaultResourceId.toLowerCase() === y.keyVaultResourceId.toLowerCase() && x.secretName.toLowerCase() === y.secretName.toLowerCase() && (x.secretVersion ?? "") === (y.secretVersion ?? "");
  });
}

export interface ClusterCompliance {
  /** shown to users: the id in its PUT's casing; the store key only for a record that cannot be read (its casing is lost with it) */
  clusterId: ClusterId | ClusterKey;
  complianceState: AssignmentComplianceState;
  message: string;
  configurationId?: string;
}

const owner = (record: ConfigurationRecord): string =>
  record.managedBy === undefined ? "it was created by a user" : `it is managed by the configuration assignment '${record.managedBy}'`;

/**
 * How a matching cluster complies. Compliant means the agent reported Installed or Compliant for the
 * configuration's current generation; a report about an older generation leaves it Pending.
 */
export function complianceOf(assignment: AssignmentRecord, cluster: ClusterRecord, configuration: ConfigurationRecord | undefined): ClusterCompliance {
  const name = assignment.spec.configurationName;
  const enforced = assignment.spec.enforcementMode === "Default";
  const base = { clusterId: cluster.id };
  if (!configuration) {
    return enforced
      ? { ...base, complianceState: "Pending", message: `The configuration '${name}' has not been created on this cluster yet.` }
      : { ...base, complianceState: "NonCompliant", message: `The cluster has no configuration named '${name}'.` };
  }
  const withId = { ...base, configurationId: configuration.id };
  if (enforced && !isManagedBy(configuration, assignment)) {
    return { ...withId, complianceState: "NonCompliant", message: `A configuration named '${name}' already exists on this cluster and ${owner(configuration)}; it was left as it is. Rename or delete it, or change the assignment's configurationName.` };
  }
  if (!sameSpec(configuration.spec, assignment.spec.configuration)) {
    return enforced
      ? { ...withId, complianceState: "Pending", message: `The configuration '${name}' is being updated to the assignment's generation ${assignment.generation}.` }
      : { ...withId, complianceState: "NonCompliant", message: `The configuration '${name}' differs from the one the assignment describes.` };
  }
  const status = configuration.complianceStatus;
  // the service could not read the configuration's Key Vault secrets for this cluster: named, whatever the agent said
  if (configuration.keyVaultFailure !== undefined) return { ...withId, complianceState: "Failed", message: configuration.keyVaultFailure };
  if (configuration.observedGeneration !== configuration.generation) {
    return { ...withId, complianceState: "Pending", message: `Waiting for the cluster agent to apply generation ${configuration.generation} of '${name}'.` };
  }
  switch (status.complianceState) {
    case "Installed":
    case "Compliant":
      return { ...withId, complianceState: "Compliant", message: status.message ?? `The cluster agent applied '${name}'.` };
    case "Failed":
      return { ...withId, complianceState: "Failed", message: status.message ?? `The cluster agent failed to apply '${name}'.` };
    case "Noncompliant":
      return { ...withId, complianceState: "NonCompliant", message: status.message ?? `The cluster agent reports '${name}' as non-compliant.` };
    default:
      return { ...withId, complianceState: "Pending", message: status.message ?? `Waiting for the cluster agent to apply '${name}'.` };
  }
}
