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

declare const CLUSTER_ID: unique symbol;
/**
 * A connected cluster's ARM resource id, in the casing its PUT used (what responses show). Branded:
 * only clusterId() and clusterIdOf() make one, so a lower-cased store key or an outbox key cannot be
 * passed where a cluster id is expected (keyOf(id) makes the key from the id, never the reverse).
 */
export type ClusterId = string & { readonly [CLUSTER_ID]: true };

export const clusterId = (subscriptionId: string, resourceGroup: string, name: string): ClusterId =>
  `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${CLUSTER_TYPE}/${name}` as ClusterId;

declare const CLUSTER_KEY: unique symbol;
/** a cluster's store key: its id lower-cased (what the outbox and store listings hold); not an id to show */
export type ClusterKey = string & { readonly [CLUSTER_KEY]: true };

export const clusterKeyOf = (id: ClusterId): ClusterKey => keyOf(id) as ClusterKey;

/** the key of a stored cluster document, or of an outbox item (whose key is the cluster's key) */
export const storedClusterKey = (key: string): ClusterKey => keyOf(key) as ClusterKey;

/** in a change announcement: every cluster of the subscription */
export const EVERY_CLUSTER = "*";

export const configurationId = (cluster: string, name: string): string =>
  `${cluster}/providers/${CONFIGURATION_TYPE}/${name}`;

/** the scope of a configuration assignment: a subscription or one of its resource groups */
export const assignmentScopeId = (subscriptionId: string, resourceGroup?: string): string =>
  resourceGroup === undefined ? subscriptionResourceId(subscriptionId) : resourceGroupId(subscriptionId, resourceGroup);

export const assignmentId = (subscriptionId: string, resourceGroup: string | undefined, name: string): string =>
  `${assignmentScopeId(subscriptionId, resourceGroup)}/providers/${ASSIGNMENT_TYPE}/${name}`;
