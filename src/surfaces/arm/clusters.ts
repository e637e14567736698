/** Handlers of Microsoft.Kubernetes/connectedClusters, the parent resource. */
import { CLUSTER_TYPE } from "../../arm/resource-ids.js";
import type { ClusterRef } from "../../domain/clusters.js";
import { validateRequestBody } from "../../openapi/index.js";
import { listBody, pageRequest } from "./paging.js";
import { clusterResource } from "./representations.js";
import type { ArmCall, ArmResult, ArmRoute } from "./route-table.js";

const RG_BASE = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Kubernetes/connectedClusters";
const SUB_BASE = "/subscriptions/:subscriptionId/providers/Microsoft.Kubernetes/connectedClusters";


const refOf = (call: ArmCall): ClusterRef => ({
  subscriptionId: call.params.subscriptionId ?? "",
  resourceGroup: call.params.resourceGroupName ?? "",
  name: call.params.clusterName ?? "",
});

async function get(call: ArmCall): Promise<ArmResult> {
  const found = await call.services.clusters.get(call.principal, refOf(call));
  return { status: 200, body: clusterResource(found.record), etag: found.etag };
}

async function put(call: ArmCall): Promise<ArmResult> {
  const { created, saved } = await call.services.clusters.put(call.principal, refOf(call), call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: clusterResource(saved.record), etag: saved.etag };
}

/** the merged result of a PATCH must pass the PUT's schema, as the PUT itself would */
const checkPutBody = (body: Record<string, unknown>): void => validateRequestBody("ConnectedCluster_Create", body);

async function patch(call: ArmCall): Promise<ArmResult> {
  const saved = await call.services.clusters.patch(call.principal, refOf(call), call.body, call.conditions, call.actor(), checkPutBody);
  return { status: 200, body: clusterResource(saved.record), etag: saved.etag };
}

async function remove(call: ArmCall): Promise<ArmResult> {
  const existed = await call.services.clusters.delete(call.principal, refOf(call), call.conditions);
  return { status: existed ? 200 : 204 };
}

function lister(byResourceGroup: boolean) {
  return async (call: ArmCall): Promise<ArmResult> => {
    const { limit, continuation } = pageRequest(call);
    const resourceGroup = byResourceGroup ? call.params.resourceGroupName : undefined;
    const page = await call.services.clusters.list(call.principal, call.params.subscriptionId ?? "", resourceGroup, limit, continuation);
    return { status: 200, body: listBody(call, page.items.map((v) => clusterResource(v.record)), page.continuation) };
  };
}

export const clusterRoutes: ArmRoute[] = [
  { operationId: "ConnectedCluster_Get", method: "GET", url: `${RG_BASE}/:clusterName`, resourceType: CLUSTER_TYPE, handler: get },
  { operationId: "ConnectedCluster_Create", method: "PUT", url: `${RG_BASE}/:clusterName`, resourceType: CLUSTER_TYPE, handler: put },
  { operationId: "ConnectedCluster_Update", method: "PATCH", url: `${RG_BASE}/:clusterName`, resourceType: CLUSTER_TYPE, handler: patch },
  { operationId: "ConnectedCluster_Delete", method: "DELETE", url: `${RG_BASE}/:clusterName`, resourceType: CLUSTER_TYPE, handler: remove },
  { operationId: "ConnectedCluster_ListByResourceGroup", method: "GET", url: RG_BASE, resourceType: CLUSTER_TYPE, handler: lister(true) },
  { operationId: "ConnectedCluster_ListBySubscription", method: "GET", url: SUB_BASE, resourceType: CLUSTER_TYPE, handler: lister(false) },
];
