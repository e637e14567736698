/**
 * The migrate-to-Flux-v2 actions (openapi/fluxMigration.json, api-version 2026-12-01-preview): one
 * sourceControlConfiguration, or every one of the cluster. Synchronous 200 for whatIf and for the migration
 * itself (one commit in the store; the cluster's agent then switches in one poll, see docs/design/flux-v2.md).
 */
import { CONFIGURATION_TYPE, type ClusterRef, type ConfigurationRef } from "../../arm/resource-ids.js";
import { armRoute, type ArmCall, type ArmResult, type ArmRoute } from "./route-table.js";
import { configurationParentTarget, configurationTarget } from "./targets.js";

const CLUSTER = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:clusterRp/:clusterResourceName/:clusterName/providers/Microsoft.KubernetesConfiguration";

async function migrateOne(call: ArmCall<ConfigurationRef>): Promise<ArmResult> {
  return { status: 200, body: await call.services.fluxMigrations.migrateOne(call.principal, call.target, call.body, call.actor) };
}

async function migrateCluster(call: ArmCall<ClusterRef>): Promise<ArmResult> {
  return { status: 200, body: await call.services.fluxMigrations.migrateCluster(call.principal, call.target, call.body, call.actor) };
}

export const fluxMigrationRoutes: ArmRoute[] = [
  armRoute({ operationId: "SourceControlConfigurations_MigrateToFluxV2", method: "POST", url: `${CLUSTER}/sourceControlConfigurations/:sourceControlConfigurationName/migrateToFluxV2`, resourceType: CONFIGURATION_TYPE, target: configurationTarget, handler: migrateOne }),
  armRoute({ operationId: "SourceControlConfigurations_MigrateClusterToFluxV2", method: "POST", url: `${CLUSTER}/migrateToFluxV2`, resourceType: CONFIGURATION_TYPE, target: configurationParentTarget, handler: migrateCluster }),
];
