/** Paths and bodies for configuration assignment tests. */
import { SUB } from "./fixtures.js";

export const ASSIGNMENT_API = "2026-11-01-preview";
export const SCC_API = "2024-11-01";
export const CLUSTER_API = "2024-01-01";

const PROVIDER = "providers/Microsoft.KubernetesConfiguration/configurationAssignments";

/** resourceGroup undefined: subscription scope */
export const assignmentsPath = (resourceGroup?: string, sub = SUB): string =>
  resourceGroup === undefined ? `/subscriptions/${sub}/${PROVIDER}` : `/subscriptions/${sub}/resourceGroups/${resourceGroup}/${PROVIDER}`;

export const assignmentPath = (name: string, resourceGroup?: string, sub = SUB): string => `${assignmentsPath(resourceGroup, sub)}/${name}`;

export const withApi = (path: string, api = ASSIGNMENT_API): string => `${path}${path.includes("?") ? "&" : "?"}api-version=${api}`;

export function assignmentBody(overrides: Record<string, unknown> = {}, configuration: Record<string, unknown> = {}) {
  return {
    properties: {
      configurationName: "baseline",
      configuration: {
        repositoryUrl: "https://github.com/example/fleet-baseline.git",
        operatorNamespace: "flux-baseline",
        operatorScope: "cluster",
        operatorParams: "--git-readonly --git-branch=main",
        ...configuration,
      },
      ...overrides,
    },
  };
}
