/**
 * What an ARM path names, parsed once from its parameters: each route row names one of these, and
 * its handler receives the typed result as `call.target` (no handler reads raw path parameters).
 * ARM's subscription id and resource group rules have run before (route-table.ts `run`).
 */
import { errors } from "../../arm/errors.js";
import {
  CLUSTER_TYPE,
  assignmentRef,
  clusterRef,
  configurationRef,
  fluxConfigurationRef,
  type FluxConfigurationRef,
  resourceScope,
  type AssignmentRef,
  type ClusterRef,
  type ConfigurationRef,
  type ResourceScope,
} from "../../arm/resource-ids.js";

export type PathParams = Readonly<Record<string, string | undefined>>;

/** a parameter the row's url declares (fastify fills each one; a missing one is a wrong row, not a bad request) */
function param(params: PathParams, name: string): string {
  const value = params[name];
  if (value === undefined) throw new Error(`the route's path declares no :${name}`);
  return value;
}

/** a path naming nothing (the provider's operations) */
export const noTarget = (): undefined => undefined;

export interface SubscriptionTarget {
  readonly subscriptionId: string;
}

export const subscriptionTarget = (params: PathParams): SubscriptionTarget => ({ subscriptionId: param(params, "subscriptionId") });

/** a collection's scope: the subscription, and the resource group when the path names one */
export const scopeTarget = (params: PathParams): ResourceScope => resourceScope(param(params, "subscriptionId"), params.resourceGroupName);

export const clusterTarget = (params: PathParams): ClusterRef =>
  clusterRef(param(params, "subscriptionId"), param(params, "resourceGroupName"), param(params, "clusterName"));

/** only connected clusters are served as parents; the path's provider and type say which parent is meant */
export function configurationParentTarget(params: PathParams): ClusterRef {
  const provider = param(params, "clusterRp");
  const type = param(params, "clusterResourceName");
  if (`${provider}/${type}`.toLowerCase() !== CLUSTER_TYPE.toLowerCase()) throw errors.unsupportedParentType(provider, type);
  return clusterTarget(params);
}

export const configurationTarget = (params: PathParams): ConfigurationRef =>
  configurationRef(configurationParentTarget(params), param(params, "sourceControlConfigurationName"));

export const assignmentTarget = (params: PathParams): AssignmentRef => assignmentRef(scopeTarget(params), param(params, "configurationAssignmentName"));

export interface AssignmentOperationTarget {
  readonly assignment: AssignmentRef;
  readonly operationId: string;
}

export const assignmentOperationTarget = (params: PathParams): AssignmentOperationTarget => ({
  assignment: assignmentTarget(params),
  operationId: param(params, "operationId"),
});

/** a fluxConfiguration named by a path (issue #16) */
export const fluxConfigurationTarget = (params: PathParams): FluxConfigurationRef =>
  fluxConfigurationRef(configurationParentTarget(params), param(params, "fluxConfigurationName"));

export interface FluxOperationTarget {
  readonly configuration: FluxConfigurationRef;
  readonly operationId: string;
}

export const fluxOperationTarget = (params: PathParams): FluxOperationTarget => ({
  configuration: fluxConfigurationTarget(params),
  operationId: param(params, "operationId"),
});
