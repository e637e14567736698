/**
 * Which vaults the service may read for a subscription's configurations (the confused-deputy rule of
 * docs/design/keyvault-references.md). The service reads secrets with its own identity and seals them
 * to a cluster key the caller may hold, so a reference must never let a caller obtain a secret it could
 * not read itself. Two rules, both checked at PUT (403 `KeyVaultReferenceNotAllowed`, nothing written):
 * 1. the vault is in the configuration's own subscription: the subscription is registered to the
 *    caller's tenant (checked before), so the vault is in the caller's tenant and under the same owners;
 *    a vault of another subscription is refused, whatever the allow-list says;
 * 2. the vault is on the allow-list the service's operators keep (`KEYVAULT_ALLOWED_VAULTS`): an entry is a
 *    vault's resource id, or `/subscriptions/{id}` for every vault of that subscription. Listing a vault
 *    says: whoever may write configurations in its subscription may have its secrets delivered to a
 *    cluster they control, i.e. the vault holds GitOps credentials for that subscription and nothing else.
 */
import { errors } from "../arm/errors.js";
import { quote } from "../arm/quote.js";
import type { KeyVaultReferences, SecretReferenceSetting } from "./types.js";
import { parseVaultId } from "./validation/keyvault-references.js";

export interface VaultTrustPolicy {
  /** lower-cased vault resource ids and `/subscriptions/{id}` entries */
  allowedVaults: readonly string[];
}

export const NO_VAULTS: VaultTrustPolicy = { allowedVaults: [] };

export function vaultAllowed(policy: VaultTrustPolicy, subscriptionId: string, keyVaultResourceId: string): "ok" | "otherSubscription" | "notListed" {
  const vault = parseVaultId(keyVaultResourceId);
  if (!vault || vault.subscriptionId !== subscriptionId.toLowerCase()) return "otherSubscription";
  const id = keyVaultResourceId.toLowerCase();
  return policy.allowedVaults.some((entry) => entry === id || entry === `/subscriptions/${vault.subscriptionId}`) ? "ok" : "notListed";
}

/** throws 403 for the first reference (under `at`) to a vault the subscription may not use */
export function checkVaultTrust(policy: VaultTrustPolicy, subscriptionId: string, refs: KeyVaultReferences | undefined, at: string): void {
  for (const [setting, ref] of Object.entries(refs ?? {}) as [SecretReferenceSetting, { keyVaultResourceId: string }][]) {
    const verdict = vaultAllowed(policy, subscriptionId, ref.keyVaultResourceId);
    if (verdict === "ok") continue;
    const target = `${at}.keyVaultReferences.${setting}.keyVaultResourceId`;
    throw errors.keyVaultReferenceNotAllowed(
      target,
      verdict === "otherSubscription"
        ? `The Key Vault ${quote(ref.keyVaultResourceId)} is not in the subscription ${quote(subscriptionId)}: a configuration may reference only vaults of its own subscription.`
        : `The Key Vault ${quote(ref.keyVaultResourceId)} is not allowed for Key Vault references in the subscription ${quote(subscriptionId)}. The service's operators allow a vault by adding it to KEYVAULT_ALLOWED_VAULTS (docs/design/keyvault-references.md).`,
    );
  }
}
