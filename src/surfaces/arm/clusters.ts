/** Handlers of Microsoft.Kubernetes/connectedClusters, the parent resource. */
import { CLUSTER_TYPE, type ClusterRef, type ResourceScope } from "../../arm/resource-ids.js";
import { validateRequestBody } from "../../openapi/index.js";
import { listBody, pageRequest } from "./paging.js";
import { clusterResource } from "./representations.js";
import { armRoute, type ArmCall, type ArmResult, type ArmRoute } from "./route-table.js";
import { clusterTarget, scopeTarget } from "./targets.js";

const RG_BASE = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Kubernetes/connectedClusters";
const SUB_BASE = "/subscriptions/:subscriptionId/providers/Microsoft.Kubernetes/connectedClusters";

async function get(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  const found = await call.services.clusters.get(call.principal, call.target);
  return { status: 200, body: clusterResource(found.record), etag: found.etag };
}

async function put(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  const { created, saved } = await call.services.clusters.put(call.principal, call.target, call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: clusterResource(saved.record), etag: saved.etag };
}

/** the merged result of a PATCH must pass the PUT's schema, as the PUT itself would */
const checkPutBody = (body: Record<string, unknown>): void => validateRequestBody("ConnectedCluster_Create", body);

async function patch(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  const saved = await call.services.clusters.patch(call.principal, call.target, call.body, call.conditions, call.actor(), checkPutBody);
  return { status: 200, body: clusterResource(saved.record), etag: saved.etag };
}

async function remove(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  const existed = await call.services.clusters.delete(call.principal, call.target, call.conditions);
  return { status: existed ? 200 : 204 };
}

/** by resource group or by subscription: the scope the path names */
async function list(call: ArmCall<ResourceScope>): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.clusters.list(call.principal, call.target, limit, continuation);
  return { status: 200, body: listBody(call, page.items.map((v) => clusterResource(v.record)), page.continuation) };
}

const ONE = { url: `${RG_BASE}/:clusterName`, resourceType: CLUSTER_TYPE, target: clusterTarget };

export const clusterRoutes: ArmRoute[] = [
  armRoute({ operationId: "ConnectedCluster_Get", method: "GET", ...ONE, handler: get }),
  armRoute({ operationId: "ConnectedCluster_Create", method: "PUT", ...ONE, handler: put }),
  armRoute({ operationId: "ConnectedCluster_Update", method: "PATCH", ...ONE, handler: patch }),
  armRoute({ operationId: "ConnectedCluster_Delete", method: "DELETE", ...ONE, handler: remove }),
  armRoute({ operationId: "ConnectedCluster_ListByResourceGroup", method: "GET", url: RG_BASE, resourceType: CLUSTER_TYPE, target: scopeTarget, handler: list }),
  armRoute({ operationId: "ConnectedCluster_ListBySubscription", method: "GET", url: SUB_BASE, resourceType: CLUSTER_TYPE, target: scopeTarget, handler: list }),
];
