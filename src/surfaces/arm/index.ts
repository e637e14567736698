import { assignmentRoutes } from "./assignments.js";
import { clusterRoutes } from "./clusters.js";
import { configurationRoutes } from "./configurations.js";
import { fluxConfigurationRoutes } from "./flux-configurations.js";
import { fluxMigrationRoutes } from "./flux-migration.js";
import { operationRoutes } from "./operations.js";
import type { ArmRoute } from "./route-table.js";
import { subscriptionRoutes } from "./subscriptions.js";

/** every ARM route the service serves; a test checks this table against openapi/ one to one */
export const armRoutes: readonly ArmRoute[] = [...subscriptionRoutes, ...clusterRoutes, ...configurationRoutes, ...fluxConfigurationRoutes, ...assignmentRoutes, ...operationRoutes, ...fluxMigrationRoutes];

export { allowedMethods, registerArmRoutes } from "./route-table.js";
