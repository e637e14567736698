/** GET /providers/Microsoft.KubernetesConfiguration/operations: what this provider can do. */
import { armRoute, type ArmResult, type ArmRoute } from "./route-table.js";
import { noTarget } from "./targets.js";

export const OPERATIONS_TYPE = "Microsoft.KubernetesConfiguration/operations";

const PROVIDER = "Microsoft Kubernetes Configuration";
const SCC = "Microsoft.KubernetesConfiguration/sourceControlConfigurations";
const CA = "Microsoft.KubernetesConfiguration/configurationAssignments";
const FLUX = "Microsoft.KubernetesConfiguration/fluxConfigurations";

const entry = (name: string, resource: string, description: string) => ({
  name,
  display: { provider: PROVIDER, resource, operation: name, description },
  isDataAction: false,
  origin: "user,system",
});

export const OPERATIONS = [
  entry(`${SCC}/write`, SCC, "Creates or updates source control configuration."),
  entry(`${SCC}/read`, SCC, "Gets source control configuration."),
  entry(`${SCC}/delete`, SCC, "Deletes source control configuration."),
  entry(`${FLUX}/write`, FLUX, "Creates or updates a Flux v2 configuration."),
  entry(`${FLUX}/read`, FLUX, "Gets a Flux v2 configuration."),
  entry(`${FLUX}/delete`, FLUX, "Deletes a Flux v2 configuration."),
  entry(`${CA}/write`, CA, "Creates or updates a configuration assignment (one configuration on every matching cluster)."),
  entry(`${CA}/read`, CA, "Gets a configuration assignment and its compliance."),
  entry(`${CA}/delete`, CA, "Deletes a configuration assignment and the configurations it manages."),
  entry(`${SCC}/migrateToFluxV2/action`, SCC, "Migrates Flux v1 source control configurations to Flux v2 fluxConfigurations (or shows what they would become)."),
  entry("Microsoft.KubernetesConfiguration/register/action", "Register", "Registers subscription to Microsoft.KubernetesConfiguration resource provider."),
];

async function list(): Promise<ArmResult> {
  return { status: 200, body: { value: OPERATIONS } };
}

export const operationRoutes: ArmRoute[] = [
  armRoute({ operationId: "Operations_List", method: "GET", url: "/providers/Microsoft.KubernetesConfiguration/operations", resourceType: OPERATIONS_TYPE, target: noTarget, handler: list }),
];
