/** GET /providers/Microsoft.KubernetesConfiguration/operations: what this provider can do. */
import type { ArmResult, ArmRoute } from "./route-table.js";

export const OPERATIONS_TYPE = "Microsoft.KubernetesConfiguration/operations";

const PROVIDER = "Microsoft Kubernetes Configuration";
const SCC = "Microsoft.KubernetesConfiguration/sourceControlConfigurations";

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
  entry("Microsoft.KubernetesConfiguration/register/action", "Register", "Registers subscription to Microsoft.KubernetesConfiguration resource provider."),
];

async function list(): Promise<ArmResult> {
  return { status: 200, body: { value: OPERATIONS } };
}

export const operationRoutes: ArmRoute[] = [
  { operationId: "Operations_List", method: "GET", url: "/providers/Microsoft.KubernetesConfiguration/operations", resourceType: OPERATIONS_TYPE, handler: list },
];
