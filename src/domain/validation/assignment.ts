/**
 * The rules of a configurationAssignments PUT beyond its schema. The configuration part is checked by
 * the same rules as a sourceControlConfigurations PUT, except that sensitive inputs are refused: they
 * are kept at most 48 hours, while an assignment applies to clusters that register months later.
 */
import type { AssignmentRecord, AssignmentSpec, EnforcementMode } from "../types.js";
import { parseSelector, type ClusterSelector } from "../cluster-selector.js";
import { parseRolloutPolicy } from "../rollout-policy.js";
import { ENFORCEMENT_MODES } from "../types.js";
import { errors } from "../../arm/errors.js";
import { checkConfigurationProperties } from "./configuration.js";
import { validateFluxConfiguration } from "./flux-configuration.js";
import { ArmError } from "../../arm/errors.js";
import { kubernetesNameProblem } from "./names.js";
import { Problems } from "./problems.js";
import { CONFIGURATION_NAME_MAX } from "./configuration.js";
import { quote } from "../../arm/quote.js";

const P = "properties";

export const SENSITIVE_INPUT_REFUSED =
  "An assignment cannot carry protected settings or SSH known_hosts: they are kept at most 48 hours, while an assignment applies to every matching cluster, including clusters that register later. Give them as Key Vault references (configuration.keyVaultReferences: the service reads the secret for each cluster and keeps what it read at most 48 hours), or use a public repository, or the deploy key each cluster generates (shown as repositoryPublicKey on the cluster's configuration) and grant it read access to the repository.";

/** the assignment's own name (a path segment), as openapi/configurationAssignments.json declares it */
const ASSIGNMENT_NAME = /^[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

export function checkAssignmentName(name: string): void {
  if (!ASSIGNMENT_NAME.test(name)) {
    throw errors.invalidResourceName("name", `The assignment name ${quote(name)} is invalid: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit.`);
  }
}

export interface AssignmentInput {
  name: string;
  properties: Record<string, unknown> | undefined;
  existing?: AssignmentRecord;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function checkSelector(problems: Problems, raw: unknown): ClusterSelector | undefined {
  const { selector, problems: found } = parseSelector(raw);
  for (const p of found) problems.add(p.criterion === undefined ? `${P}.clusterSelector` : `${P}.clusterSelector.${p.criterion}`, p.message);
  return selector;
}

export function validateAssignmentPut(input: AssignmentInput): AssignmentSpec {
  const problems = new Problems();
  const props = input.properties ?? {};

  const configurationName = typeof props.configurationName === "string" ? props.configurationName : undefined;
  if (!configurationName) problems.add(`${P}.configurationName`, "The property 'configurationName' is required: the name of the configuration created on each cluster.");
  else {
    const problem = kubernetesNameProblem(configurationName.toLowerCase(), CONFIGURATION_NAME_MAX);
    if (problem) problems.add(`${P}.configurationName`, `The configuration name ${quote(configurationName)} is invalid: it ${problem}.`);
    // renaming would orphan every configuration the assignment created under the old name
    if (input.existing && input.existing.spec.configurationName.toLowerCase() !== configurationName.toLowerCase()) {
      problems.add(`${P}.configurationName`, `The configuration name cannot change after the assignment is created (it is '${input.existing.spec.configurationName}'); delete the assignment and create a new one.`, "PropertyChangeNotAllowed");
    }
  }

  const raw = props.configuration;
  const rawFlux = props.fluxConfiguration;
  let configuration: AssignmentSpec["configuration"] | undefined;
  let fluxConfiguration: AssignmentSpec["fluxConfiguration"] | undefined;
  const given = (v: unknown) => v !== undefined && v !== null;
  if (given(raw) && given(rawFlux)) {
    problems.add(`${P}.fluxConfiguration`, "Give either 'configuration' (a Flux v1 sourceControlConfiguration) or 'fluxConfiguration' (a Flux v2 fluxConfiguration), not both: an assignment keeps one kind on each cluster. Switching an assignment to Flux v2 is a PUT with 'fluxConfiguration' instead of 'configuration'.");
  } else if (given(rawFlux)) {
    fluxConfiguration = checkFluxConfiguration(problems, rawFlux, configurationName ?? input.name);
  } else if (!isObject(raw)) problems.add(`${P}.configuration`, "The property 'configuration' (Flux v1) or 'fluxConfiguration' (Flux v2) is required: the properties of the configuration created on each cluster.");
  else {
    const sensitive = ["configurationProtectedSettings", "sshKnownHostsContents"].filter((k) => raw[k] !== undefined && raw[k] !== null && !(isObject(raw[k]) && Object.keys(raw[k]).length === 0));
    for (const key of sensitive) problems.add(`${P}.configuration.${key}`, SENSITIVE_INPUT_REFUSED, "SensitiveInputNotAllowed");
    // the configuration's own rules, targets under properties.configuration (its name is checked above, as configurationName)
    if (sensitive.length === 0) configuration = checkConfigurationProperties(problems, `${P}.configuration`, { name: configurationName ?? input.name, properties: raw }).spec;
  }

  const mode = props.enforcementMode ?? "Default";
  if (!ENFORCEMENT_MODES.includes(mode as EnforcementMode)) problems.add(`${P}.enforcementMode`, "The property 'enforcementMode' must be 'Default' or 'DoNotEnforce'.");
  const clusterSelector = checkSelector(problems, props.clusterSelector);
  const { policy: rolloutPolicy, problems: policyProblems } = parseRolloutPolicy(props.rolloutPolicy, `${P}.rolloutPolicy`);
  for (const p of policyProblems) problems.add(p.target, p.message);
  problems.throwIfAny();

  return {
    configurationName: configurationName ?? "",
    ...(fluxConfiguration ? { fluxConfiguration } : { configuration: configuration ?? ({} as NonNullable<AssignmentSpec["configuration"]>) }),
    ...(clusterSelector ? { clusterSelector } : {}),
    enforcementMode: mode as EnforcementMode,
    ...(rolloutPolicy ? { rolloutPolicy } : {}),
  };
}

export const FLUX_SENSITIVE_INPUT_REFUSED =
  "An assignment cannot carry protected settings or SSH known_hosts: they are kept at most 48 hours, while an assignment applies to every matching cluster, including clusters that register later. For a Flux v2 assignment use a public repository, or gitRepository.localAuthRef (the name of a secret already on each cluster).";

export const FLUX_KEY_VAULT_REFUSED =
  "Key Vault references are not supported in a Flux v2 assignment yet (the service's Key Vault resolver reads them for Flux v1 configurations only). Use a public repository or gitRepository.localAuthRef (a secret already on each cluster), or keep the assignment on Flux v1 ('configuration' with keyVaultReferences) for now.";

/**
 * The Flux v2 fluxConfiguration of an assignment: the fluxConfigurations PUT's own rules (validation/
 * flux-configuration.ts, under the lower-cased configurationName), targets under properties.fluxConfiguration;
 * sensitive inputs and Key Vault references refused.
 */
function checkFluxConfiguration(problems: Problems, raw: unknown, name: string): AssignmentSpec["fluxConfiguration"] | undefined {
  const at = `${P}.fluxConfiguration`;
  if (!isObject(raw)) {
    problems.add(at, "The property 'fluxConfiguration' must be an object: the fluxConfiguration properties created on each cluster.");
    return undefined;
  }
  const present = (v: unknown) => v !== undefined && v !== null && !(isObject(v) && Object.keys(v).length === 0) && v !== "";
  let refused = false;
  if (present(raw.configurationProtectedSettings)) {
    problems.add(`${at}.configurationProtectedSettings`, FLUX_SENSITIVE_INPUT_REFUSED, "SensitiveInputNotAllowed");
    refused = true;
  }
  if (isObject(raw.gitRepository) && present(raw.gitRepository.sshKnownHosts)) {
    problems.add(`${at}.gitRepository.sshKnownHosts`, FLUX_SENSITIVE_INPUT_REFUSED, "SensitiveInputNotAllowed");
    refused = true;
  }
  if (present(raw.keyVaultReferences)) {
    problems.add(`${at}.keyVaultReferences`, FLUX_KEY_VAULT_REFUSED);
    refused = true;
  }
  if (refused) return undefined;
  try {
    return validateFluxConfiguration({ name, properties: raw }).spec;
  } catch (err) {
    if (!(err instanceof ArmError)) throw err;
    const details = err.details && err.details.length > 0 ? err.details : [{ code: err.code, message: err.message, ...(err.target !== undefined ? { target: err.target } : {}) }];
    // the fluxConfiguration's targets (properties.X, or its name) placed under properties.fluxConfiguration
    for (const d of details) {
      const target = d.target === undefined || d.target === "name" ? `${P}.configurationName` : d.target.startsWith(`${P}.`) ? `${at}.${d.target.slice(P.length + 1)}` : `${at}.${d.target}`;
      problems.add(target, d.message, d.code as Parameters<Problems["add"]>[2]);
    }
    return undefined;
  }
}

/** throws when nothing is there to validate: ARM's body-level error */
export function requireProperties(body: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(body.properties)) throw errors.invalidParameter("properties", "The property 'properties' is required.");
  return body.properties;
}
