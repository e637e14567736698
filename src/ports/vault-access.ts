/**
 * Whether a principal may have the service read a Key Vault's secrets for it (Key Vault references,
 * docs/design/keyvault-references.md, "Trust"). The service reads with its own identity and seals what
 * it read to a cluster key the caller may hold, so it asks this for the caller at PUT and again, for the
 * principal recorded at PUT, before every read of the vault. The default is the operators' allow-list
 * (`AllowListVaultAccess` in src/domain/keyvault-trust.ts, from KEYVAULT_ALLOWED_VAULTS); a production
 * adapter may add an authorization check (`Microsoft.KeyVault/vaults/deploy/action` on the vault for the
 * principal) behind the same interface.
 */

/** who references were accepted for: the caller of the PUT that wrote them (never a token, only ids) */
export interface VaultPrincipal {
  tenantId: string;
  objectId: string;
  /** the client application of the token; an allow-list names it only for app-only callers */
  appId?: string;
  kind: "User" | "Application";
}

export interface VaultAccessRequest {
  /** the subscription of the configuration or assignment (the vault is in it: checked before this is asked) */
  subscriptionId: string;
  /** the vault's ARM resource id, as the reference spells it */
  vaultId: string;
  principal: VaultPrincipal;
}

export interface VaultAccessChecker {
  /**
   * true: the service may read this vault's secrets for this principal's configurations of the
   * subscription. Rejects (throws) only when it cannot tell (a dependency it asks is down): a PUT then
   * fails without writing, the resolver keeps what it holds and asks again with backoff. The answer
   * must not depend on anything the caller can see beyond its own right (no oracle for other principals).
   */
  mayUse(request: VaultAccessRequest): Promise<boolean>;
}
