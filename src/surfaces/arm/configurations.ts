/** Handlers of Microsoft.KubernetesConfiguration/sourceControlConfigurations. */
import { errors } from "../../arm/errors.js";
import { CLUSTER_TYPE, CONFIGURATION_TYPE } from "../../arm/resource-ids.js";
import type { ConfigurationRef } from "../../domain/configurations.js";
import type { ClusterRef } from "../../domain/clusters.js";
import { listBody, pageRequest } from "./paging.js";
import { configurationResource } from "./representations.js";
import type { ArmCall, ArmResult, ArmRoute } from "./route-table.js";

const BASE =
  "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:clusterRp/:clusterResourceName/:clusterName/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations";

/** only connected clusters are served here; the path's provider and type say which parent is meant */
function clusterOf(call: ArmCall): ClusterRef {
  const { subscriptionId, resourceGroupName, clusterRp, clusterResourceName, clusterName } = call.params;
  if (`${clusterRp}/${clusterResourceName}`.toLowerCase() !== CLUSTER_TYPE.toLowerCase()) {
    throw errors.unsupportedParentType(clusterRp ?? "", clusterResourceName ?? "");
  }
  return { subscriptionId: subscriptionId ?? "", resourceGroup: resourceGroupName ?? "", name: clusterName ?? "" };
}

function refOf(call: ArmCall): ConfigurationRef {
  const cluster = clusterOf(call);
  return {
    subscriptionId: cluster.subscriptionId,
    resourceGroup: cluster.resourceGroup,
    clusterName: cluster.name,
    configurationName: call.params.sourceControlConfigurationName ?? "",
  };
}

async function get(call: ArmCall): Promise<ArmResult> {
  const view = await call.services.configurations.get(call.principal, refOf(call));
  return { status: 200, body: configurationResource(view), etag: view.etag };
}

async function put(call: ArmCall): Promise<ArmResult> {
  const { created, view } = await call.services.configurations.put(call.principal, refOf(call), call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: configurationResource(view), etag: view.etag };
}

async function remove(call: ArmCall): Promise<ArmResult> {
  const existed = await call.services.configurations.delete(call.principal, refOf(call), call.conditions);
  return { status: existed ? 200 : 204 };
}

async function list(call: ArmCall): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.configurations.list(call.principal, clusterOf(call), limit, continuation);
  return { status: 200, body: listBody(call, page.items.map(configurationResource), page.continuation) };
}

export const configurationRoutes: ArmRoute[] = [
  { operationId: "SourceControlConfigurations_Get", method: "GET", url: `${BASE}/:sourceControlConfigurationName`, resourceType: CONFIGURATION_TYPE, handler: get },
  { operationId: "SourceControlConfigurations_CreateOrUpdate", method: "PUT", url: `${BASE}/:sourceControlConfigurationName`, resourceType: CONFIGURATION_TYPE, handler: put },
  { operationId: "SourceControlConfigurations_Delete", method: "DELETE", url: `${BASE}/:sourceControlConfigurationName`, resourceType: CONFIGURATION_TYPE, handler: remove },
  { operationId: "SourceControlConfigurations_List", method: "GET", url: BASE, resourceType: CONFIGURATION_TYPE, handler: list },
];
