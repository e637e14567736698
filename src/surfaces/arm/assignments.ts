/**
 * Handlers of Microsoft.KubernetesConfiguration/configurationAssignments, at resource-group and at
 * subscription scope: the same handlers, the scope read from the path.
 */
import { ASSIGNMENT_TYPE, type AssignmentRef, type ResourceScope } from "../../arm/resource-ids.js";
import { linkTo } from "./links.js";
import { listBody, pageRequest } from "./paging.js";
import { assignmentResource, complianceResult, whatIfResult } from "./representations.js";
import { armRoute, type ArmCall, type ArmResult, type ArmRoute } from "./route-table.js";
import { assignmentOperationTarget, assignmentTarget, scopeTarget, type AssignmentOperationTarget } from "./targets.js";

const RG_BASE = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.KubernetesConfiguration/configurationAssignments";
const SUB_BASE = "/subscriptions/:subscriptionId/providers/Microsoft.KubernetesConfiguration/configurationAssignments";

/** seconds a client should wait between polls of a deletion */
const RETRY_AFTER_SECONDS = "5";

/** the assignment's own path, as the caller spelled it */
const assignmentPath = (call: ArmCall): string => {
  const path = call.request.url.split("?")[0] ?? "";
  return path.replace(/\/operationResults\/[^/]*$/i, "").replace(/\/(halt|resume|rollback)$/i, "");
};

const pollHeaders = (call: ArmCall, operationId: string): Record<string, string> => ({
  location: linkTo(call, `${assignmentPath(call)}/operationResults/${operationId}`),
  "retry-after": RETRY_AFTER_SECONDS,
});

async function get(call: ArmCall<AssignmentRef>): Promise<ArmResult> {
  const view = await call.services.assignments.get(call.principal, call.target);
  return { status: 200, body: assignmentResource(view), etag: view.etag };
}

async function put(call: ArmCall<AssignmentRef>): Promise<ArmResult> {
  const { created, view } = await call.services.assignments.put(call.principal, call.target, call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: assignmentResource(view), etag: view.etag };
}

/** 202 and a Location to poll while the managed configurations are removed; 204 when there was nothing */
async function remove(call: ArmCall<AssignmentRef>): Promise<ArmResult> {
  const operationId = await call.services.assignments.delete(call.principal, call.target, call.conditions, call.actor());
  if (operationId === undefined) return { status: 204 };
  return { status: 202, headers: pollHeaders(call, operationId) };
}

async function operationResult(call: ArmCall<AssignmentOperationTarget>): Promise<ArmResult> {
  const { assignment, operationId } = call.target;
  const state = await call.services.assignments.deletionState(call.principal, assignment, operationId);
  return state === "running" ? { status: 202, headers: pollHeaders(call, operationId) } : { status: 200 };
}

/** halt, resume, rollback: recorded at once, acted on by the reconciler; 202 and a Location to poll */
const action =
  (kind: "halt" | "resume" | "rollback") =>
  async (call: ArmCall<AssignmentRef>): Promise<ArmResult> => {
    const reason = typeof call.body.reason === "string" && call.body.reason.trim() !== "" ? call.body.reason.trim() : undefined;
    const operationId = await call.services.assignments.rolloutAction(call.principal, call.target, kind, call.conditions, call.actor(), reason);
    return { status: 202, headers: pollHeaders(call, operationId) };
  };

/** what-if: changes nothing; paged over the scope's clusters (nextLink: POST again with the same body) */
async function whatIf(call: ArmCall<AssignmentRef>): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.assignments.whatIf(call.principal, call.target, call.body, limit, continuation);
  const body = listBody(call, page.items.map(whatIfResult), page.continuation) as Record<string, unknown>;
  return { status: 200, body: page.stages ? { stages: page.stages, ...body } : body };
}

/** by resource group or by subscription: the scope the path names */
async function list(call: ArmCall<ResourceScope>): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.assignments.list(call.principal, call.target, limit, continuation);
  return { status: 200, body: listBody(call, page.items.map(assignmentResource), page.continuation) };
}

async function complianceResults(call: ArmCall<AssignmentRef>): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.assignments.complianceResults(call.principal, call.target, limit, continuation);
  return { status: 200, body: listBody(call, page.items.map(complianceResult), page.continuation) };
}

const t = ASSIGNMENT_TYPE;
const RG_ONE = `${RG_BASE}/:configurationAssignmentName`;
const SUB_ONE = `${SUB_BASE}/:configurationAssignmentName`;
const one = assignmentTarget;
const scope = scopeTarget;
const op = assignmentOperationTarget;

/** one row per operation of openapi/configurationAssignments.json, its operationId written out (grep finds it) */
export const assignmentRoutes: ArmRoute[] = [
  armRoute({ operationId: "ConfigurationAssignments_Get", method: "GET", url: RG_ONE, resourceType: t, target: one, handler: get }),
  armRoute({ operationId: "ConfigurationAssignments_CreateOrUpdate", method: "PUT", url: RG_ONE, resourceType: t, target: one, handler: put }),
  armRoute({ operationId: "ConfigurationAssignments_Delete", method: "DELETE", url: RG_ONE, resourceType: t, target: one, handler: remove }),
  armRoute({ operationId: "ConfigurationAssignments_ListByResourceGroup", method: "GET", url: RG_BASE, resourceType: t, target: scope, handler: list }),
  armRoute({ operationId: "ConfigurationAssignments_ListComplianceResults", method: "GET", url: `${RG_ONE}/complianceResults`, resourceType: t, target: one, handler: complianceResults }),
  armRoute({ operationId: "ConfigurationAssignments_GetOperationResult", method: "GET", url: `${RG_ONE}/operationResults/:operationId`, resourceType: t, target: op, handler: operationResult }),
  armRoute({ operationId: "ConfigurationAssignments_Halt", method: "POST", url: `${RG_ONE}/halt`, resourceType: t, target: one, handler: action("halt"), optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_Resume", method: "POST", url: `${RG_ONE}/resume`, resourceType: t, target: one, handler: action("resume"), optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_Rollback", method: "POST", url: `${RG_ONE}/rollback`, resourceType: t, target: one, handler: action("rollback"), optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_WhatIf", method: "POST", url: `${RG_ONE}/whatIf`, resourceType: t, target: one, handler: whatIf, optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_GetAtSubscription", method: "GET", url: SUB_ONE, resourceType: t, target: one, handler: get }),
  armRoute({ operationId: "ConfigurationAssignments_CreateOrUpdateAtSubscription", method: "PUT", url: SUB_ONE, resourceType: t, target: one, handler: put }),
  armRoute({ operationId: "ConfigurationAssignments_DeleteAtSubscription", method: "DELETE", url: SUB_ONE, resourceType: t, target: one, handler: remove }),
  armRoute({ operationId: "ConfigurationAssignments_ListBySubscription", method: "GET", url: SUB_BASE, resourceType: t, target: scope, handler: list }),
  armRoute({ operationId: "ConfigurationAssignments_ListComplianceResultsAtSubscription", method: "GET", url: `${SUB_ONE}/complianceResults`, resourceType: t, target: one, handler: complianceResults }),
  armRoute({ operationId: "ConfigurationAssignments_GetOperationResultAtSubscription", method: "GET", url: `${SUB_ONE}/operationResults/:operationId`, resourceType: t, target: op, handler: operationResult }),
  armRoute({ operationId: "ConfigurationAssignments_HaltAtSubscription", method: "POST", url: `${SUB_ONE}/halt`, resourceType: t, target: one, handler: action("halt"), optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_ResumeAtSubscription", method: "POST", url: `${SUB_ONE}/resume`, resourceType: t, target: one, handler: action("resume"), optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_RollbackAtSubscription", method: "POST", url: `${SUB_ONE}/rollback`, resourceType: t, target: one, handler: action("rollback"), optionalBody: true }),
  armRoute({ operationId: "ConfigurationAssignments_WhatIfAtSubscription", method: "POST", url: `${SUB_ONE}/whatIf`, resourceType: t, target: one, handler: whatIf, optionalBody: true }),
];
