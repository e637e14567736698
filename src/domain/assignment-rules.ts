/**
 * The pure rules of configuration assignments: which clusters an assignment applies to, what it wants
 * on each, and how each cluster complies. The reconciler, the compliance results and the summary all
 * use these, so what is enforced and what is reported cannot disagree.
 */
import { configurationId, fluxConfigurationId, keyOf, type ClusterId, type ClusterKey, type ConfigurationId, type FluxConfigurationId } from "../arm/resource-ids.js";
import * as ClusterSelectors from "./cluster-selector.js";
import {
  SECRET_REFERENCE_SETTINGS,
  type AssignmentComplianceState,
  type AssignmentRecord,
  type AssignmentSpec,
  type ClusterRecord,
  type ConfigurationRecord,
  type ConfigurationSpec,
  type FluxConfigurationRecord,
  type FluxConfigurationSpec,
  type KeyVaultReferences,
} from "./types.js";

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

export const isManagedBy = (record: Pick<ConfigurationRecord, "managedBy">, assignment: Pick<AssignmentRecord, "id">): boolean =>
  record.managedBy !== undefined && keyOf(record.managedBy) === keyOf(assignment.id);

/** the assignment gives a Flux v2 fluxConfiguration (issue #16), not a Flux v1 sourceControlConfiguration */
export const isFluxV2 = (spec: AssignmentSpec): spec is AssignmentSpec & { fluxConfiguration: FluxConfigurationSpec } => spec.fluxConfiguration !== undefined;

/** the fluxConfiguration a Flux v2 assignment keeps on a cluster: the configurationName, lower-cased (fluxConfiguration names are DNS labels) */
export const managedFluxConfigurationId = (assignment: AssignmentRecord, cluster: Pick<ClusterRecord, "id">): FluxConfigurationId =>
  fluxConfigurationId(cluster.id, assignment.spec.configurationName.toLowerCase());

/** two fluxConfiguration specs, compared as values (key order and absent optionals never count) */
export function sameFluxSpec(a: FluxConfigurationSpec, b: FluxConfigurationSpec): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
  );
}

/**
 * What a cluster holds that an assignment's decision and compliance depend on: the configurations of its
 * name of both kinds (live ones, not tombstones), and - looked up only when they matter - the names of the
 * cluster's other live configurations of the kind the assignment does not give (Azure's rule: a cluster
 * carries Flux v1 or Flux v2, not both).
 */
export interface Held {
  v1?: ConfigurationRecord;
  v2?: FluxConfigurationRecord;
  /** the cluster's other live Flux v1 configurations (undefined: not looked up) */
  otherV1?: string[];
  /** the cluster's other live fluxConfigurations (undefined: not looked up) */
  otherV2?: string[];
}

/** whether the decision on this cluster needs the cluster's other configurations listed (creates and switches only) */
export function needsOthers(assignment: AssignmentRecord, held: Held): "v1" | "v2" | undefined {
  if (isFluxV2(assignment.spec)) return held.v2 && isManagedBy(held.v2, assignment) ? undefined : "v1";
  return held.v1 === undefined || (held.v2 !== undefined && isManagedBy(held.v2, assignment)) ? "v2" : undefined;
}

/** the migrate action a cluster carrying unmanaged Flux v1 configurations needs before a Flux v2 assignment can land */
export const MIGRATE_ACTION = "POST …/connectedClusters/{cluster}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?api-version=2026-12-01-preview";

export function mixedMessage(assignment: AssignmentRecord, held: Held): string | undefined {
  const name = assignment.spec.configurationName;
  if (isFluxV2(assignment.spec) && held.otherV1 && held.otherV1.length > 0) {
    return `The cluster carries Flux v1 configurations the assignment does not manage (${held.otherV1.slice(0, 5).map((n) => `'${n}'`).join(", ")}); a cluster carries Flux v1 or Flux v2 configurations, not both, so the fluxConfiguration '${name.toLowerCase()}' was not created. Migrate them with ${MIGRATE_ACTION} (the cluster switches in one poll) or delete them; the assignment then creates its fluxConfiguration.`;
  }
  if (!isFluxV2(assignment.spec) && held.otherV2 && held.otherV2.length > 0) {
    return `The cluster carries Flux v2 fluxConfigurations (${held.otherV2.slice(0, 5).map((n) => `'${n}'`).join(", ")}); a cluster carries Flux v1 or Flux v2 configurations, not both, and Flux v1 is retired, so the configuration '${name}' was not created. Switch the assignment to Flux v2 (properties.fluxConfiguration instead of properties.configuration).`;
  }
  return undefined;
}

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

const owner = (record: Pick<ConfigurationRecord, "managedBy">): string =>
  record.managedBy === undefined ? "it was created by a user" : `it is managed by the configuration assignment '${record.managedBy}'`;

/**
 * How a matching cluster complies. Compliant means the agent reported Installed or Compliant for the
 * configuration's current generation; a report about an older generation leaves it Pending.
 */
export function complianceOf(assignment: AssignmentRecord, cluster: ClusterRecord, held: Held): ClusterCompliance {
  return isFluxV2(assignment.spec) ? fluxComplianceOf(assignment, cluster, held) : v1ComplianceOf(assignment, cluster, held);
}

function v1ComplianceOf(assignment: AssignmentRecord, cluster: ClusterRecord, held: Held): ClusterCompliance {
  const configuration = held.v1;
  const name = assignment.spec.configurationName;
  const enforced = assignment.spec.enforcementMode === "Default";
  const base = { clusterId: cluster.id };
  if (!configuration) {
    if (held.v2 && isManagedBy(held.v2, assignment) && enforced) return { ...base, configurationId: held.v2.id, complianceState: "Pending", message: `The assignment's fluxConfiguration '${held.v2.name}' is being switched back to the Flux v1 configuration '${name}' (generation ${assignment.generation}).` };
    const mixed = mixedMessage(assignment, held);
    if (mixed && enforced) return { ...base, complianceState: "Failed", message: mixed };
    return enforced
      ? { ...base, complianceState: "Pending", message: `The configuration '${name}' has not been created on this cluster yet.` }
      : { ...base, complianceState: "NonCompliant", message: `The cluster has no configuration named '${name}'.` };
  }
  const withId = { ...base, configurationId: configuration.id };
  if (enforced && !isManagedBy(configuration, assignment)) {
    return { ...withId, complianceState: "NonCompliant", message: `A configuration named '${name}' already exists on this cluster and ${owner(configuration)}; it was left as it is. Rename or delete it, or change the assignment's configurationName.` };
  }
  if (!assignment.spec.configuration || !sameSpec(configuration.spec, assignment.spec.configuration)) {
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

/**
 * How a matching cluster complies with a Flux v2 assignment: judged on the managed fluxConfiguration and the
 * agent's report about its current generation (Agent_ReportFluxStatus); the assignment's Flux v1 configuration
 * still on the cluster means "not migrated yet"; unmanaged Flux v1 configurations block it (Failed, naming the
 * migrate action).
 */
function fluxComplianceOf(assignment: AssignmentRecord, cluster: ClusterRecord, held: Held): ClusterCompliance {
  const name = assignment.spec.configurationName.toLowerCase();
  const enforced = assignment.spec.enforcementMode === "Default";
  const base = { clusterId: cluster.id };
  const { v1, v2 } = held;
  if (enforced && v2 && !isManagedBy(v2, assignment)) {
    return { ...base, configurationId: v2.id, complianceState: "NonCompliant", message: `A fluxConfiguration named '${name}' already exists on this cluster and ${owner(v2)}; it was left as it is. Rename or delete it, or change the assignment's configurationName.` };
  }
  if (enforced && v1 && !isManagedBy(v1, assignment)) {
    return { ...base, configurationId: v1.id, complianceState: "NonCompliant", message: `A Flux v1 configuration named '${assignment.spec.configurationName}' exists on this cluster and ${owner(v1)}; it was left as it is. Migrate it (${MIGRATE_ACTION}) or delete it, or change the assignment's configurationName.` };
  }
  const mixed = mixedMessage(assignment, held);
  if (mixed && enforced && !(v2 && isManagedBy(v2, assignment))) return { ...base, ...(v1 ? { configurationId: v1.id } : {}), complianceState: "Failed", message: mixed };
  if (!v2) {
    if (v1) {
      return enforced
        ? { ...base, configurationId: v1.id, complianceState: "Pending", message: `The cluster still runs the assignment's Flux v1 configuration '${v1.name}'; it is migrated to the fluxConfiguration '${name}' in one poll when its rollout reaches it.` }
        : { ...base, configurationId: v1.id, complianceState: "NonCompliant", message: `The cluster runs the Flux v1 configuration '${v1.name}', not the fluxConfiguration '${name}' the assignment describes.` };
    }
    return enforced
      ? { ...base, complianceState: "Pending", message: `The fluxConfiguration '${name}' has not been created on this cluster yet.` }
      : { ...base, complianceState: "NonCompliant", message: `The cluster has no fluxConfiguration named '${name}'.` };
  }
  const withId = { ...base, configurationId: v2.id };
  if (!sameFluxSpec(v2.spec, assignment.spec.fluxConfiguration as FluxConfigurationSpec)) {
    return enforced
      ? { ...withId, complianceState: "Pending", message: `The fluxConfiguration '${name}' is being updated to the assignment's generation ${assignment.generation}.` }
      : { ...withId, complianceState: "NonCompliant", message: `The fluxConfiguration '${name}' differs from the one the assignment describes.` };
  }
  if (v2.observedGeneration !== v2.generation) {
    return { ...withId, complianceState: "Pending", message: `Waiting for the cluster agent to apply generation ${v2.generation} of the fluxConfiguration '${name}'.` };
  }
  const report = v2.compliance;
  switch (report.complianceState) {
    case "Compliant":
      return { ...withId, complianceState: "Compliant", message: `The cluster agent reports the fluxConfiguration '${name}' Compliant${report.sourceSyncedCommitId ? ` at ${report.sourceSyncedCommitId}` : ""}.` };
    case "Suspended":
      return v2.spec.suspend
        ? { ...withId, complianceState: "Compliant", message: `The fluxConfiguration '${name}' is suspended, as the assignment describes.` }
        : { ...withId, complianceState: "Pending", message: `The cluster agent reports the fluxConfiguration '${name}' suspended.` };
    case "Non-Compliant":
      return v2.provisioningState === "Failed"
        ? { ...withId, complianceState: "Failed", message: report.errorMessage ?? `The cluster agent failed to apply the fluxConfiguration '${name}'.` }
        : { ...withId, complianceState: "NonCompliant", message: report.errorMessage ?? `The cluster agent reports the fluxConfiguration '${name}' Non-Compliant.` };
    default:
      return { ...withId, complianceState: "Pending", message: report.errorMessage ?? `Waiting for the cluster agent to apply the fluxConfiguration '${name}'.` };
  }
}
