/**
 * Handlers of Microsoft.KubernetesConfiguration/configurationAssignments, at resource-group and at
 * subscription scope: the same handlers, the scope read from the path.
 */
import { ASSIGNMENT_TYPE } from "../../arm/resource-ids.js";
import type { AssignmentRef } from "../../domain/assignments.js";
import { linkTo } from "./links.js";
import { listBody, pageRequest } from "./paging.js";
import { assignmentResource, complianceResult } from "./representations.js";
import type { ArmCall, ArmResult, ArmRoute } from "./route-table.js";

const RG_BASE = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.KubernetesConfiguration/configurationAssignments";
const SUB_BASE = "/subscriptions/:subscriptionId/providers/Microsoft.KubernetesConfiguration/configurationAssignments";

/** seconds a client should wait between polls of a deletion */
const RETRY_AFTER_SECONDS = "5";

const refOf = (call: ArmCall): AssignmentRef => ({
  subscriptionId: call.params.subscriptionId ?? "",
  ...(call.params.resourceGroupName !== undefined ? { resourceGroup: call.params.resourceGroupName } : {}),
  name: call.params.configurationAssignmentName ?? "",
});

/** the assignment's own path, as the caller spelled it */
const assignmentPath = (call: ArmCall): string => {
  const path = call.request.url.split("?")[0] ?? "";
  return path.replace(/\/operationResults\/[^/]*$/i, "");
};

const pollHeaders = (call: ArmCall, operationId: string): Record<string, string> => ({
  location: linkTo(call, `${assignmentPath(call)}/operationResults/${operationId}`),
  "retry-after": RETRY_AFTER_SECONDS,
});

async function get(call: ArmCall): Promise<ArmResult> {
  const view = await call.services.assignments.get(call.principal, refOf(call));
  return { status: 200, body: assignmentResource(view), etag: view.etag };
}

async function put(call: ArmCall): Promise<ArmResult> {
  const { created, view } = await call.services.assignments.put(call.principal, refOf(call), call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: assignmentResource(view), etag: view.etag };
}

/** 202 and a Location to poll while the managed configurations are removed; 204 when there was nothing */
async function remove(call: ArmCall): Promise<ArmResult> {
  const operationId = await call.services.assignments.delete(call.principal, refOf(call), call.conditions, call.actor());
  if (operationId === undefined) return { status: 204 };
  return { status: 202, headers: pollHeaders(call, operationId) };
}

async function operationResult(call: ArmCall): Promise<ArmResult> {
  const operationId = call.params.operationId ?? "";
  const state = await call.services.assignments.deletionState(call.principal, refOf(call), operationId);
  return state === "running" ? { status: 202, headers: pollHeaders(call, operationId) } : { status: 200 };
}

function lister(byResourceGroup: boolean) {
  return async (call: ArmCall): Promise<ArmResult> => {
    const { limit, continuation } = pageRequest(call);
    const resourceGroup = byResourceGroup ? call.params.resourceGroupName : undefined;
    const page = await call.services.assignments.list(call.principal, call.params.subscriptionId ?? "", resourceGroup, limit, continuation);
    return { status: 200, body: listBody(call, page.items.map(assignmentResource), page.continuation) };
  };
}

async function complianceResults(call: ArmCall): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.assignments.complianceResults(call.principal, refOf(call), limit, continuation);
  return { status: 200, body: listBody(call, page.items.map(complianceResult), page.continuation) };
}

const t = ASSIGNMENT_TYPE;
const RG_ONE = `${RG_BASE}/:configurationAssignmentName`;
const SUB_ONE = `${SUB_BASE}/:configurationAssignmentName`;

/** one row per operation of openapi/configurationAssignments.json, its operationId written out (grep finds it) */
export const assignmentRoutes: ArmRoute[] = [
  { operationId: "ConfigurationAssignments_Get", method: "GET", url: RG_ONE, resourceType: t, handler: get },
  { operationId: "ConfigurationAssignments_CreateOrUpdate", method: "PUT", url: RG_ONE, resourceType: t, handler: put },
  { operationId: "ConfigurationAssignments_Delete", method: "DELETE", url: RG_ONE, resourceType: t, handler: remove },
  { operationId: "ConfigurationAssignments_ListByResourceGroup", method: "GET", url: RG_BASE, resourceType: t, handler: lister(true) },
  { operationId: "ConfigurationAssignments_ListComplianceResults", method: "GET", url: `${RG_ONE}/complianceResults`, resourceType: t, handler: complianceResults },
  { operationId: "ConfigurationAssignments_GetOperationResult", method: "GET", url: `${RG_ONE}/operationResults/:operationId`, resourceType: t, handler: operationResult },
  { operationId: "ConfigurationAssignments_GetAtSubscription", method: "GET", url: SUB_ONE, resourceType: t, handler: get },
  { operationId: "ConfigurationAssignments_CreateOrUpdateAtSubscription", method: "PUT", url: SUB_ONE, resourceType: t, handler: put },
  { operationId: "ConfigurationAssignments_DeleteAtSubscription", method: "DELETE", url: SUB_ONE, resourceType: t, handler: remove },
  { operationId: "ConfigurationAssignments_ListBySubscription", method: "GET", url: SUB_BASE, resourceType: t, handler: lister(false) },
  { operationId: "ConfigurationAssignments_ListComplianceResultsAtSubscription", method: "GET", url: `${SUB_ONE}/complianceResults`, resourceType: t, handler: complianceResults },
  { operationId: "ConfigurationAssignments_GetOperationResultAtSubscription", method: "GET", url: `${SUB_ONE}/operationResults/:operationId`, resourceType: t, handler: operationResult },
];
