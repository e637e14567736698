/**
 * The secret-reader port: reads one Key Vault secret with the service's own identity, for Key Vault
 * references (docs/design/keyvault-references.md). The adapter (src/keys/key-vault-secrets.ts) uses
 * `@azure/keyvault-secrets`; the vault is named by its ARM name and found through the configured URL
 * template. Errors say what went wrong and never carry the value.
 */

export interface SecretRead {
  /** the secret's value: kept only as long as it takes to seal it */
  value: string;
  /** the version read (the current one when none was asked for) */
  version: string;
  enabled: boolean;
}

export type SecretReadFailure = "NotFound" | "Disabled" | "Forbidden" | "Throttled" | "Unavailable";

/** why a secret could not be read; `retryAfterSeconds` for the transient kinds (Throttled, Unavailable) */
export class SecretReadError extends Error {
  constructor(
    public readonly failure: SecretReadFailure,
    message: string,
    public readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SecretReadError";
  }

  get transient(): boolean {
    return this.failure === "Throttled" || this.failure === "Unavailable";
  }
}

export interface SecretReader {
  /** the secret `name` (at `version`, else its current version) of the vault named `vaultName` */
  read(vaultName: string, name: string, version?: string): Promise<SecretRead>;
}
