/**
 * ARM resource ids. Fixed segments use ARM's canonical casing; names keep the caller's casing.
 * Store keys are the lowercased ids, because ARM compares ids case-insensitively.
 */
export const CLUSTER_TYPE = "Microsoft.Kubernetes/connectedClusters";
export const CONFIGURATION_TYPE = "Microsoft.KubernetesConfiguration/sourceControlConfigurations";
export const ASSIGNMENT_TYPE = "Microsoft.KubernetesConfiguration/configurationAssignments";
export const CONFIGURATION_NAMESPACE = "Microsoft.KubernetesConfiguration";

export const keyOf = (id: string): string => id.toLowerCase();
export const partitionOf = (subscriptionId: string): string => subscriptionId.toLowerCase();

export const subscriptionResourceId = (subscriptionId: string): string => `/subscriptions/${subscriptionId}`;

export const resourceGroupId = (subscriptionId: string, resourceGroup: string): string =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;

export const clusterId = (subscriptionId: string, resourceGroup: string, name: string): string =>
  `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${CLUSTER_TYPE}/${name}`;

export const configurationId = (cluster: string, name: string): string =>
  `${cluster}/providers/${CONFIGURATION_TYPE}/${name}`;

/** the scope of a configuration assignment: a subscription or one of its resource groups */
export const assignmentScopeId = (subscriptionId: string, resourceGroup?: string): string =>
  resourceGroup === undefined ? subscriptionResourceId(subscriptionId) : resourceGroupId(subscriptionId, resourceGroup);

export const assignmentId = (subscriptionId: string, resourceGroup: string | undefined, name: string): string =>
  `${assignmentScopeId(subscriptionId, resourceGroup)}/providers/${ASSIGNMENT_TYPE}/${name}`;
