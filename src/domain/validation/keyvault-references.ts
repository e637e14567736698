/**
 * Key Vault references of a configuration (issue #14): the shape rules (the vault's ARM id, Key Vault's
 * secret-name and version rules), the rule that a setting is given as a value or as a reference, never
 * both, and the repository transport each setting needs. The trust rule (which vaults a subscription may
 * use) is the domain's (src/domain/keyvault-trust.ts): it needs the service's configuration.
 */
import { quote } from "../../arm/quote.js";
import { SECRET_REFERENCE_SETTINGS, type KeyVaultReferences, type KeyVaultSecretReference, type SecretReferenceSetting } from "../types.js";
import type { Problems } from "./problems.js";
import type { RepositoryTransport } from "../../contract/repository-url.js";

/** Key Vault's names: 3 to 24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no "--" */
const VAULT_NAME = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const VAULT_ID = /^\/subscriptions\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\/resourceGroups\/([-\w.()]{1,90})\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i;
/** Key Vault's secret names and versions */
export const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
export const SECRET_VERSION = /^[0-9a-fA-F]{32}$/;

export interface VaultId {
  subscriptionId: string;
  resourceGroup: string;
  /** the vault's name as given (Key Vault compares names case-insensitively) */
  name: string;
}

/** the parts of a vault's ARM resource id, or undefined when it is not one */
export function parseVaultId(id: string): VaultId | undefined {
  const m = VAULT_ID.exec(id);
  if (!m || m[2]?.endsWith(".") || !VAULT_NAME.test(m[3] ?? "")) return undefined;
  return { subscriptionId: (m[1] ?? "").toLowerCase(), resourceGroup: m[2] ?? "", name: m[3] ?? "" };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function checkReference(problems: Problems, target: string, raw: unknown): KeyVaultSecretReference | undefined {
  if (!isObject(raw)) {
    problems.add(target, "A Key Vault reference is an object with 'keyVaultResourceId', 'secretName' and optionally 'secretVersion'.");
    return undefined;
  }
  const id = typeof raw.keyVaultResourceId === "string" ? raw.keyVaultResourceId : undefined;
  const name = typeof raw.secretName === "string" ? raw.secretName : undefined;
  const version = raw.secretVersion === undefined || raw.secretVersion === null ? undefined : raw.secretVersion;
  let ok = true;
  if (id === undefined || !parseVaultId(id)) {
    ok = false;
    problems.add(
      `${target}.keyVaultResourceId`,
      `The Key Vault ${id === undefined ? "resource id is required" : `resource id ${quote(id)} is not one`}: use /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.KeyVault/vaults/{vaultName} (a vault name has 3 to 24 letters, digits and hyphens, starts with a letter).`,
    );
  }
  if (name === undefined || !SECRET_NAME.test(name)) {
    ok = false;
    problems.add(`${target}.secretName`, `The secret name ${name === undefined ? "is required" : `${quote(name)} is not a Key Vault secret name`}: 1 to 127 letters, digits and hyphens.`);
  }
  if (version !== undefined && (typeof version !== "string" || !SECRET_VERSION.test(version))) {
    ok = false;
    problems.add(`${target}.secretVersion`, "The secret version must be a Key Vault secret version (32 hexadecimal characters), or absent for the current version.");
  }
  if (!ok || id === undefined || name === undefined) return undefined;
  return { keyVaultResourceId: id, secretName: name, ...(typeof version === "string" ? { secretVersion: version.toLowerCase() } : {}) };
}

/**
 * The references under `${at}.keyVaultReferences`, checked against the values given beside them
 * (`given`: which settings came as values) and the repository's transport. Undefined when there are none.
 */
export function checkKeyVaultReferences(
  problems: Problems,
  at: string,
  raw: unknown,
  given: ReadonlySet<SecretReferenceSetting>,
  transport: RepositoryTransport | undefined,
): KeyVaultReferences | undefined {
  if (raw === undefined || raw === null) return undefined;
  const target = `${at}.keyVaultReferences`;
  if (!isObject(raw)) {
    problems.add(target, "The property 'keyVaultReferences' must be an object naming a Key Vault secret per setting.");
    return undefined;
  }
  const refs: KeyVaultReferences = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(SECRET_REFERENCE_SETTINGS as readonly string[]).includes(key)) {
      problems.add(`${target}.${key}`, `A Key Vault reference for ${quote(key)} is not supported; use ${SECRET_REFERENCE_SETTINGS.join(", ")}.`);
      continue;
    }
    const setting = key as SecretReferenceSetting;
    if (given.has(setting)) {
      const where = setting === "sshKnownHostsContents" ? "'sshKnownHostsContents'" : `'configurationProtectedSettings.${setting}'`;
      problems.add(`${target}.${setting}`, `The setting ${quote(setting)} is given both as a value (${where}) and as a Key Vault reference; give one of them.`);
      continue;
    }
    const ref = checkReference(problems, `${target}.${setting}`, value);
    if (ref) refs[setting] = ref;
  }
  // one source per configuration: the service rewrites the secrets document from the vault on every refresh
  if (Object.keys(refs).length > 0) {
    for (const setting of given) {
      if (raw[setting] !== undefined) continue; // said above
      problems.add(`${target}.${setting}`, `A configuration with Key Vault references takes every sensitive setting from Key Vault: give ${quote(setting)} as a reference too, not as a value.`);
    }
  }
  const has = (s: SecretReferenceSetting) => refs[s] !== undefined || given.has(s);
  if ((refs.sshPrivateKey || refs.sshKnownHostsContents) && transport === "https") {
    problems.add(`${target}.${refs.sshPrivateKey ? "sshPrivateKey" : "sshKnownHostsContents"}`, "An SSH private key or known_hosts can only be used with an SSH repository URL (ssh:// or git@host:path).");
  }
  if ((refs.httpsUser || refs.httpsKey) && transport === "ssh") {
    problems.add(`${target}.${refs.httpsUser ? "httpsUser" : "httpsKey"}`, "The settings 'httpsUser' and 'httpsKey' can only be used with an http(s):// repository URL.");
  }
  if ((refs.httpsUser || refs.httpsKey) && has("httpsUser") !== has("httpsKey")) {
    problems.add(`${target}.${has("httpsUser") ? "httpsKey" : "httpsUser"}`, "The settings 'httpsUser' and 'httpsKey' must be given together (each as a value or as a reference).");
  }
  return Object.keys(refs).length > 0 ? refs : undefined;
}
