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
  let configuration: AssignmentSpec["configuration"] | undefined;
  if (!isObject(raw)) problems.add(`${P}.configuration`, "The property 'configuration' is required: the properties of the configuration created on each cluster.");
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
    configuration: configuration ?? ({} as AssignmentSpec["configuration"]),
    ...(clusterSelector ? { clusterSelector } : {}),
    enforcementMode: mode as EnforcementMode,
    ...(rolloutPolicy ? { rolloutPolicy } : {}),
  };
}

/** throws when nothing is there to validate: ARM's body-level error */
export function requireProperties(body: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(body.properties)) throw errors.invalidParameter("properties", "The property 'properties' is required.");
  return body.properties;
}
