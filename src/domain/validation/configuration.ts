/**
 * The rules of a sourceControlConfigurations PUT beyond its schema (types and enums are checked by
 * the openapi/ validator first). Returns the spec with server-side defaults, and the sensitive
 * inputs apart. Every problem is collected; nothing is returned unless all pass.
 */
import type { ConfigurationRecord, ConfigurationSpec, ProtectedSettingKey } from "../types.js";
import { PROTECTED_SETTING_KEYS } from "../types.js";
import { decodeBase64Strict } from "./base64.js";
import { knownHostsProblem } from "./known-hosts.js";
import { kubernetesNameProblem } from "./names.js";
import { operatorParamsProblem } from "./operator-params.js";
import { Problems } from "./problems.js";
import { chartValuesProblem } from "./chart-values.js";
import { checkRepositoryUrl, type RepositoryTransport } from "../../contract/repository-url.js";
import { parsePrivateKey } from "./ssh-keys.js";
import { quote } from "../../arm/quote.js";
import { checkKeyVaultReferences } from "./keyvault-references.js";
import type { SecretReferenceSetting } from "../types.js";

export const CONFIGURATION_NAME_MAX = 63;
export const OPERATOR_NAME_MAX = 23;

export interface ConfigurationInput {
  name: string;
  properties: Record<string, unknown> | undefined;
  /** the live record being replaced, for the read-only property rule */
  existing?: ConfigurationRecord;
}

export interface ValidatedConfiguration {
  spec: ConfigurationSpec;
  secrets?: { protectedSettings: Partial<Record<ProtectedSettingKey, string>>; sshKnownHostsContents?: string };
}

/** where the properties of a configuration are, in a sourceControlConfigurations PUT */
const PROPERTIES = "properties";
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function checkName(problems: Problems, target: string, value: string, max: number, what: string): void {
  const problem = kubernetesNameProblem(value, max);
  // the resource's own name (a path segment) is ARM's InvalidResourceName; names in the body are parameters
  if (problem) problems.add(target, `The ${what} ${quote(value)} is invalid: it ${problem}.`, target === "name" ? "InvalidResourceName" : "InvalidParameter");
}

function checkProtectedSettings(problems: Problems, at: string, raw: unknown, transport: RepositoryTransport | undefined): Partial<Record<ProtectedSettingKey, string>> {
  const settings: Partial<Record<ProtectedSettingKey, string>> = {};
  if (raw === undefined || raw === null) return settings;
  const target = `${at}.configurationProtectedSettings`;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(PROTECTED_SETTING_KEYS as readonly string[]).includes(key)) {
      problems.add(`${target}.${key}`, `The protected setting ${quote(key)} is not supported; use ${PROTECTED_SETTING_KEYS.join(", ")}.`);
      continue;
    }
    const decoded = typeof value === "string" ? decodeBase64Strict(value) : undefined;
    if (!decoded || decoded.length === 0) {
      // the value itself is never echoed: it is a secret
      problems.add(`${target}.${key}`, `The protected setting ${quote(key)} must be a non-empty base64 string.`);
      continue;
    }
    if (key === "sshPrivateKey") {
      const parsed = parsePrivateKey(decoded);
      if (!parsed.ok) problems.add(`${target}.${key}`, `The protected setting 'sshPrivateKey' is not a usable private key: ${parsed.reason}.`);
    }
    settings[key as ProtectedSettingKey] = value as string;
  }
  if (settings.sshPrivateKey !== undefined && transport === "https") {
    problems.add(`${target}.sshPrivateKey`, "The protected setting 'sshPrivateKey' can only be used with an SSH repository URL (ssh:// or git@host:path).");
  }
  const hasUser = settings.httpsUser !== undefined;
  const hasKey = settings.httpsKey !== undefined;
  if (hasUser !== hasKey) problems.add(`${target}.${hasUser ? "httpsKey" : "httpsUser"}`, "The protected settings 'httpsUser' and 'httpsKey' must be given together.");
  if ((hasUser || hasKey) && transport === "ssh") {
    problems.add(`${target}.${hasUser ? "httpsUser" : "httpsKey"}`, "The protected settings 'httpsUser' and 'httpsKey' can only be used with an http(s):// repository URL.");
  }
  return settings;
}

function checkKnownHosts(problems: Problems, at: string, raw: unknown, transport: RepositoryTransport | undefined): string | undefined {
  const value = str(raw);
  if (value === undefined || value === "") return undefined;
  const target = `${at}.sshKnownHostsContents`;
  const decoded = decodeBase64Strict(value);
  if (!decoded) {
    problems.add(target, "The property 'sshKnownHostsContents' must be base64-encoded known_hosts contents.");
    return undefined;
  }
  const problem = knownHostsProblem(decoded.toString("utf8"));
  if (problem) problems.add(target, `The property 'sshKnownHostsContents' is not valid known_hosts contents: ${problem}.`);
  if (transport === "https") problems.add(target, "The property 'sshKnownHostsContents' can only be used with an SSH repository URL.");
  return value;
}

/** read-only properties may be sent back unchanged (a GET-modify-PUT), never with another value */
function checkReadOnly(problems: Problems, at: string, props: Record<string, unknown>, existing: ConfigurationRecord | undefined): void {
  const current = {
    repositoryPublicKey: existing?.repositoryPublicKey ?? "",
    provisioningState: existing?.provisioningState ?? "Succeeded",
    complianceState: existing?.complianceStatus.complianceState ?? "Pending",
  };
  if (props.repositoryPublicKey !== undefined && props.repositoryPublicKey !== current.repositoryPublicKey) problems.readOnly(`${at}.repositoryPublicKey`);
  if (props.provisioningState !== undefined && props.provisioningState !== current.provisioningState) problems.readOnly(`${at}.provisioningState`);
  const compliance = props.complianceStatus as Record<string, unknown> | undefined;
  if (compliance?.complianceState !== undefined && compliance.complianceState !== current.complianceState) problems.readOnly(`${at}.complianceStatus.complianceState`);
}

function checkHelm(problems: Problems, at: string, raw: unknown): ConfigurationSpec["helmOperatorProperties"] {
  if (raw === undefined || raw === null) return undefined;
  const helm = raw as Record<string, unknown>;
  const chartVersion = str(helm.chartVersion);
  if (chartVersion !== undefined && !/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(chartVersion)) {
    problems.add(`${at}.helmOperatorProperties.chartVersion`, `The chart version ${quote(chartVersion)} is not a semantic version such as 1.4.0.`);
  }
  const chartValues = str(helm.chartValues);
  const problem = chartValues === undefined ? undefined : chartValuesProblem(chartValues);
  if (problem) problems.add(`${at}.helmOperatorProperties.chartValues`, `The chart values are not accepted: ${problem}.`);
  return { chartVersion, chartValues };
}

export function validateConfigurationPut(input: ConfigurationInput): ValidatedConfiguration {
  const problems = new Problems();
  // ARM names are case-insensitive: the Kubernetes rule applies to the name's lower-case form
  checkName(problems, "name", input.name.toLowerCase(), CONFIGURATION_NAME_MAX, "configuration name");
  const validated = checkConfigurationProperties(problems, PROPERTIES, input);
  problems.throwIfAny();
  return validated;
}

/**
 * The rules of a configuration's properties, whose targets are under `at` (`properties` in a
 * sourceControlConfigurations PUT, `properties.configuration` in an assignment). Adds its problems
 * to the caller's; what it returns is meaningful only when there are none.
 */
export function checkConfigurationProperties(problems: Problems, at: string, input: ConfigurationInput): ValidatedConfiguration {
  const props = input.properties ?? {};

  const repositoryUrl = str(props.repositoryUrl);
  let transport: RepositoryTransport | undefined;
  if (!repositoryUrl) problems.add(`${at}.repositoryUrl`, "The property 'repositoryUrl' is required.");
  else {
    const check = checkRepositoryUrl(repositoryUrl);
    if (check.ok) transport = check.transport;
    // the URL is not echoed: a refused URL may be refused precisely because it carries a password
    else problems.add(`${at}.repositoryUrl`, `The repository URL is not accepted: ${check.reason}. Use http(s)://host/path, ssh://[user@]host/path or user@host:path, with no password or token in the URL (docs/repository-url.md).`);
  }

  const operatorNamespace = str(props.operatorNamespace) ?? "default";
  checkName(problems, `${at}.operatorNamespace`, operatorNamespace, OPERATOR_NAME_MAX, "operator namespace");
  const operatorInstanceName = str(props.operatorInstanceName) ?? input.name.toLowerCase();
  if (props.operatorInstanceName === undefined && input.name.length > OPERATOR_NAME_MAX) {
    problems.add(`${at}.operatorInstanceName`, `The operator instance name defaults to the configuration name, which is longer than ${OPERATOR_NAME_MAX} characters; set 'operatorInstanceName'.`);
  } else checkName(problems, `${at}.operatorInstanceName`, operatorInstanceName, OPERATOR_NAME_MAX, "operator instance name");

  const operatorType = props.operatorType ?? "Flux";
  if (operatorType !== "Flux") problems.add(`${at}.operatorType`, `The operator type '${String(operatorType)}' is not supported; only 'Flux' is.`);
  const operatorScope = props.operatorScope ?? "cluster";
  if (operatorScope !== "cluster" && operatorScope !== "namespace") problems.add(`${at}.operatorScope`, "The property 'operatorScope' must be 'cluster' or 'namespace'.");

  const operatorParams = str(props.operatorParams);
  if (operatorParams !== undefined) {
    const problem = operatorParamsProblem(operatorParams);
    if (problem) problems.add(`${at}.operatorParams`, `The operator parameters are not accepted: ${problem}.`);
  }

  const protectedSettings = checkProtectedSettings(problems, at, props.configurationProtectedSettings, transport);
  const sshKnownHostsContents = checkKnownHosts(problems, at, props.sshKnownHostsContents, transport);
  const helmOperatorProperties = checkHelm(problems, at, props.helmOperatorProperties);
  checkReadOnly(problems, at, props, input.existing);
  const given = new Set<SecretReferenceSetting>([...(Object.keys(protectedSettings) as SecretReferenceSetting[]), ...(sshKnownHostsContents !== undefined ? (["sshKnownHostsContents"] as const) : [])]);
  const keyVaultReferences = checkKeyVaultReferences(problems, at, props.keyVaultReferences, given, transport);

  const spec: ConfigurationSpec = {
    repositoryUrl: repositoryUrl ?? "",
    operatorNamespace,
    operatorInstanceName,
    operatorType: "Flux",
    operatorScope: operatorScope as ConfigurationSpec["operatorScope"],
    ...(operatorParams !== undefined ? { operatorParams } : {}),
    ...(typeof props.enableHelmOperator === "boolean" ? { enableHelmOperator: props.enableHelmOperator } : {}),
    ...(helmOperatorProperties ? { helmOperatorProperties } : {}),
    ...(keyVaultReferences ? { keyVaultReferences } : {}),
  };
  const hasSecrets = Object.keys(protectedSettings).length > 0 || sshKnownHostsContents !== undefined;
  return { spec, secrets: hasSecrets ? { protectedSettings, ...(sshKnownHostsContents !== undefined ? { sshKnownHostsContents } : {}) } : undefined };
}
