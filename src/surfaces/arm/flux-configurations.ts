/**
 * Handlers of Microsoft.KubernetesConfiguration/fluxConfigurations (issue #16), long-running as the
 * official document says (x-ms-long-running-operation, final-state-via azure-async-operation): every
 * write answers with an Azure-AsyncOperation header naming .../operations/{id}, which the official SDK
 * polls until `Succeeded`, then GETs the resource. PUT and PATCH are applied before they answer (their
 * operation has already succeeded, unless the configuration sets `waitForReconciliation`: then it runs
 * until the cluster's agent reports the new generation reconciled, or `reconciliationWaitDuration` passes);
 * a DELETE runs until the cluster's agent reports the Flux objects removed (`forceDelete=true`: at once, 200).
 */
import { FLUX_CONFIGURATION_TYPE, type ClusterRef, type FluxConfigurationRef } from "../../arm/resource-ids.js";
import { linkTo } from "./links.js";
import { listBody, pageRequest } from "./paging.js";
import { fluxConfigurationResource, fluxOperationStatus } from "./representations.js";
import { armRoute, type ArmCall, type ArmResult, type ArmRoute } from "./route-table.js";
import type { FluxConfigurationView } from "../../domain/flux-configurations.js";
import { configurationParentTarget, fluxConfigurationTarget, fluxOperationTarget, type FluxOperationTarget } from "./targets.js";

const BASE =
  "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:clusterRp/:clusterResourceName/:clusterName/providers/Microsoft.KubernetesConfiguration/fluxConfigurations";

/** the path of a configuration as the caller spelled it (the request's own path, up to the name) */
const resourcePath = (call: ArmCall, ref: FluxConfigurationRef): string => {
  const path = new URL(call.request.url, "https://x").pathname;
  const at = path.toLowerCase().lastIndexOf(`/${ref.name.toLowerCase()}`);
  return at < 0 ? ref.id : path.slice(0, at + 1 + ref.name.length);
};

/** Azure-AsyncOperation (what the SDK polls) and Location, both the operation's status URL */
function pollHeaders(call: ArmCall, ref: FluxConfigurationRef, operationId: string, retryAfter = false): Record<string, string> {
  const status = linkTo(call, `${resourcePath(call, ref)}/operations/${operationId}`);
  return { "azure-asyncoperation": status, location: status, ...(retryAfter ? { "retry-after": "10" } : {}) };
}

/** how soon a poller of a write waiting for reconciliation asks again (the agent reports within its poll interval) */
const WAIT_RETRY_AFTER = "5";

/** a write's operation still running (waitForReconciliation): the resource shows Creating or Updating */
const waiting = (view: FluxConfigurationView): boolean => view.record.provisioningState === "Creating" || view.record.provisioningState === "Updating";

function writeHeaders(call: ArmCall, ref: FluxConfigurationRef, view: FluxConfigurationView): Record<string, string> {
  return { ...pollHeaders(call, ref, view.record.operation.id), ...(waiting(view) ? { "retry-after": WAIT_RETRY_AFTER } : {}) };
}

async function get(call: ArmCall<FluxConfigurationRef>): Promise<ArmResult> {
  const view = await call.services.fluxConfigurations.get(call.principal, call.target);
  return { status: 200, body: fluxConfigurationResource(view), etag: view.etag };
}

async function put(call: ArmCall<FluxConfigurationRef>): Promise<ArmResult> {
  const { created, view } = await call.services.fluxConfigurations.put(call.principal, call.target, call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: fluxConfigurationResource(view), etag: view.etag, headers: writeHeaders(call, call.target, view) };
}

async function patch(call: ArmCall<FluxConfigurationRef>): Promise<ArmResult> {
  const view = await call.services.fluxConfigurations.patch(call.principal, call.target, call.body, call.conditions, call.actor());
  return { status: 202, body: fluxConfigurationResource(view), etag: view.etag, headers: writeHeaders(call, call.target, view) };
}

async function remove(call: ArmCall<FluxConfigurationRef>): Promise<ArmResult> {
  const force = /^true$/i.test(String((call.request.query as Record<string, unknown>).forceDelete ?? ""));
  const outcome = await call.services.fluxConfigurations.delete(call.principal, call.target, call.conditions, force);
  if (outcome.state === "absent") return { status: 204 };
  if (outcome.state === "deleted") return { status: 200 };
  return { status: 202, headers: pollHeaders(call, call.target, outcome.operationId, true) };
}

async function list(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.fluxConfigurations.list(call.principal, call.target, limit, continuation);
  return { status: 200, body: listBody(call, page.items.map(fluxConfigurationResource), page.continuation) };
}

async function operationStatus(call: ArmCall<FluxOperationTarget>): Promise<ArmResult> {
  const status = await call.services.fluxConfigurations.operationStatus(call.principal, call.target.configuration, call.target.operationId);
  return { status: 200, body: fluxOperationStatus(status), ...(status.status === "InProgress" ? { headers: { "retry-after": WAIT_RETRY_AFTER } } : {}) };
}

const ONE = { url: `${BASE}/:fluxConfigurationName`, resourceType: FLUX_CONFIGURATION_TYPE, target: fluxConfigurationTarget };

/** one row per operation of openapi/fluxConfigurations.json, its operationId written out (grep finds it) */
export const fluxConfigurationRoutes: ArmRoute[] = [
  armRoute({ operationId: "FluxConfigurations_Get", method: "GET", ...ONE, handler: get }),
  armRoute({ operationId: "FluxConfigurations_CreateOrUpdate", method: "PUT", ...ONE, handler: put }),
  armRoute({ operationId: "FluxConfigurations_Update", method: "PATCH", ...ONE, handler: patch }),
  armRoute({ operationId: "FluxConfigurations_Delete", method: "DELETE", ...ONE, handler: remove }),
  armRoute({ operationId: "FluxConfigurations_List", method: "GET", url: BASE, resourceType: FLUX_CONFIGURATION_TYPE, target: configurationParentTarget, handler: list }),
  armRoute({
    operationId: "FluxConfigOperationStatus_Get",
    method: "GET",
    url: `${BASE}/:fluxConfigurationName/operations/:operationId`,
    resourceType: FLUX_CONFIGURATION_TYPE,
    target: fluxOperationTarget,
    handler: operationStatus,
  }),
];
