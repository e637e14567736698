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

declare const CONFIGURATION_ID: unique symbol;
/**
 * A source control configuration's ARM resource id (its cluster's id plus the configuration's name, in
 * the casing given). Branded like ClusterId: only configurationId() makes one.
 */
export type ConfigurationId = string & { readonly [CONFIGURATION_ID]: true };

export const configurationId = (cluster: ClusterId, name: string): ConfigurationId =>
  `${cluster}/providers/${CONFIGURATION_TYPE}/${name}` as ConfigurationId;

declare const ASSIGNMENT_ID: unique symbol;
/** A configuration assignment's ARM resource id. Branded: only assignmentId() makes one. */
export type AssignmentId = string & { readonly [ASSIGNMENT_ID]: true };

/** the scope of a configuration assignment: a subscription or one of its resource groups */
export const assignmentScopeId = (subscriptionId: string, resourceGroup?: string): string =>
  resourceGroup === undefined ? subscriptionResourceId(subscriptionId) : resourceGroupId(subscriptionId, resourceGroup);

export const assignmentId = (subscriptionId: string, resourceGroup: string | undefined, name: string): AssignmentId =>
  `${assignmentScopeId(subscriptionId, resourceGroup)}/providers/${ASSIGNMENT_TYPE}/${name}` as AssignmentId;

// ---- typed references: a path's names parsed once, with the id they make

/** a connected cluster named by a path */
export interface ClusterRef {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly id: ClusterId;
}

export const clusterRef = (subscriptionId: string, resourceGroup: string, name: string): ClusterRef => ({
  subscriptionId,
  resourceGroup,
  name,
  id: clusterId(subscriptionId, resourceGroup, name),
});

/** a source control configuration named by a path: its cluster and its own name */
export interface ConfigurationRef {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly clusterName: string;
  readonly configurationName: string;
  readonly cluster: ClusterRef;
  readonly id: ConfigurationId;
}

export const configurationRef = (cluster: ClusterRef, configurationName: string): ConfigurationRef => ({
  subscriptionId: cluster.subscriptionId,
  resourceGroup: cluster.resourceGroup,
  clusterName: cluster.name,
  configurationName,
  cluster,
  id: configurationId(cluster.id, configurationName),
});

/** where resources are listed: a subscription, or one of its resource groups */
export interface ResourceScope {
  readonly subscriptionId: string;
  /** absent at subscription scope */
  readonly resourceGroup?: string;
}

export const resourceScope = (subscriptionId: string, resourceGroup?: string): ResourceScope =>
  resourceGroup === undefined ? { subscriptionId } : { subscriptionId, resourceGroup };

/** where a configuration assignment lives (and what it may select from) */
export type AssignmentScope = ResourceScope;
export const assignmentScope = resourceScope;

/** a configuration assignment named by a path */
export interface AssignmentRef extends AssignmentScope {
  readonly name: string;
  readonly id: AssignmentId;
}

export const assignmentRef = (scope: AssignmentScope, name: string): AssignmentRef => ({
  ...scope,
  name,
  id: assignmentId(scope.subscriptionId, scope.resourceGroup, name),
});

// ---- Flux v2 configurations (issue #16)

export const FLUX_CONFIGURATION_TYPE = "Microsoft.KubernetesConfiguration/fluxConfigurations";

declare const FLUX_CONFIGURATION_ID: unique symbol;
/** A fluxConfiguration's ARM resource id (its cluster's id plus its name, in the casing given). Branded: only fluxConfigurationId() makes one. */
export type FluxConfigurationId = string & { readonly [FLUX_CONFIGURATION_ID]: true };

export const fluxConfigurationId = (cluster: ClusterId, name: string): FluxConfigurationId =>
  `${cluster}/providers/${FLUX_CONFIGURATION_TYPE}/${name}` as FluxConfigurationId;

/** a fluxConfiguration named by a path: its cluster and its own name */
export interface FluxConfigurationRef {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly clusterName: string;
  readonly name: string;
  readonly cluster: ClusterRef;
  readonly id: FluxConfigurationId;
}

export const fluxConfigurationRef = (cluster: ClusterRef, name: string): FluxConfigurationRef => ({
  subscriptionId: cluster.subscriptionId,
  resourceGroup: cluster.resourceGroup,
  clusterName: cluster.name,
  name,
  cluster,
  id: fluxConfigurationId(cluster.id, name),
});
