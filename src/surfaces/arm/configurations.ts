/** Handlers of Microsoft.KubernetesConfiguration/sourceControlConfigurations. */
import { CONFIGURATION_TYPE, type ClusterRef, type ConfigurationRef } from "../../arm/resource-ids.js";
import { errors } from "../../arm/errors.js";
import { listBody, pageRequest } from "./paging.js";
import { configurationResource, configurationText } from "./representations.js";
import { armRoute, type ArmCall, type ArmResult, type ArmRoute } from "./route-table.js";
import { configurationParentTarget, configurationTarget } from "./targets.js";

const BASE =
  "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:clusterRp/:clusterResourceName/:clusterName/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations";

/** the api-versions whose schema has Key Vault references (openapi/sourceControlConfigurationsPreview.json) */
const REFERENCE_API_VERSIONS: ReadonlySet<string> = new Set(["2026-12-01-preview"]);

const withReferences = (call: ArmCall): boolean => REFERENCE_API_VERSIONS.has(call.apiVersion);

async function get(call: ArmCall<ConfigurationRef>): Promise<ArmResult> {
  const view = await call.services.configurations.get(call.principal, call.target);
  return { status: 200, body: withReferences(call) ? configurationResource(view, true) : configurationText(view), etag: view.etag };
}

async function put(call: ArmCall<ConfigurationRef>): Promise<ArmResult> {
  const properties = call.body.properties as Record<string, unknown> | undefined;
  // the official api-versions' schemas have no references: refused, not silently dropped
  if (!withReferences(call) && properties?.keyVaultReferences !== undefined) {
    throw errors.invalidRequestContent(`The property 'properties.keyVaultReferences' is not part of api-version '${call.apiVersion}'; use api-version 2026-12-01-preview.`, "properties.keyVaultReferences");
  }
  const { created, view } = await call.services.configurations.put(call.principal, call.target, call.body, call.conditions, call.actor());
  return { status: created ? 201 : 200, body: configurationResource(view, withReferences(call)), etag: view.etag };
}

async function remove(call: ArmCall<ConfigurationRef>): Promise<ArmResult> {
  const existed = await call.services.configurations.delete(call.principal, call.target, call.conditions);
  return { status: existed ? 200 : 204 };
}

async function list(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  const { limit, continuation } = pageRequest(call);
  const page = await call.services.configurations.list(call.principal, call.target, limit, continuation);
  return { status: 200, body: listBody(call, page.items.map((v) => configurationResource(v, withReferences(call))), page.continuation) };
}

const ONE = { url: `${BASE}/:sourceControlConfigurationName`, resourceType: CONFIGURATION_TYPE, target: configurationTarget };

export const configurationRoutes: ArmRoute[] = [
  armRoute({ operationId: "SourceControlConfigurations_Get", method: "GET", ...ONE, handler: get }),
  armRoute({ operationId: "SourceControlConfigurations_CreateOrUpdate", method: "PUT", ...ONE, handler: put }),
  armRoute({ operationId: "SourceControlConfigurations_Delete", method: "DELETE", ...ONE, handler: remove }),
  armRoute({ operationId: "SourceControlConfigurations_List", method: "GET", url: BASE, resourceType: CONFIGURATION_TYPE, target: configurationParentTarget, handler: list }),
];
