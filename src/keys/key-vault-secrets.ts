/**
 * Reads Key Vault secrets for Key Vault references with `@azure/keyvault-secrets` and the service's
 * identity (DefaultAzureCredential, as for keys). The vault's URL comes from its ARM name through a
 * template (`KEYVAULT_URL_TEMPLATE`, default `https://{name}.vault.azure.net`), which tests point at the
 * local stand-in. One SecretClient per vault; each call has a deadline (the client's retries included).
 * Failures become `SecretReadError`s by cause: 404 NotFound, 403 on a disabled secret Disabled, other 401/403
 * Forbidden, 429 Throttled (with the vault's Retry-After), anything else Unavailable. No message carries a value.
 */
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import type { TokenCredential } from "@azure/identity";
import { DeadlineExceededError, withDeadline } from "../ports/circuit-breaker.js";
import { SecretReadError, type SecretRead, type SecretReader } from "../ports/secret-reader.js";

export const DEFAULT_VAULT_URL_TEMPLATE = "https://{name}.vault.azure.net";

export interface KeyVaultSecretsSettings {
  credential: TokenCredential;
  /** `{name}` is replaced by the vault's name */
  urlTemplate?: string;
  clientOptions?: SecretClientOptions;
  /** each read's deadline, retries included; default 3000 ms */
  timeoutMs?: number;
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" ? status : undefined;
}

function retryAfterOf(err: unknown): number {
  const header = (err as { response?: { headers?: { get(name: string): string | undefined } } }).response?.headers?.get("retry-after");
  return header && /^\d+$/.test(header) ? Number(header) : 5;
}

/** the vault's message, when it is one of its own short texts (never the request: no value can be in it) */
function disabled(err: unknown): boolean {
  const text = `${(err as { code?: unknown }).code ?? ""} ${(err as Error).message ?? ""}`;
  return /SecretDisabled|disabled secret/i.test(text);
}

export class KeyVaultSecretReader implements SecretReader {
  private readonly clients = new Map<string, SecretClient>();

  constructor(private readonly settings: KeyVaultSecretsSettings) {}

  urlOf(vaultName: string): string {
    return (this.settings.urlTemplate ?? DEFAULT_VAULT_URL_TEMPLATE).replace("{name}", vaultName.toLowerCase());
  }

  private client(vaultName: string): SecretClient {
    const url = this.urlOf(vaultName);
    let client = this.clients.get(url);
    if (!client) {
      client = new SecretClient(url, this.settings.credential, this.settings.clientOptions);
      this.clients.set(url, client);
    }
    return client;
  }

  async read(vaultName: string, name: string, version?: string): Promise<SecretRead> {
    const what = `secret '${name}'${version ? ` version '${version}'` : ""} of Key Vault '${vaultName}'`;
    try {
      const secret = await withDeadline(`Key Vault getSecret`, this.settings.timeoutMs ?? 3000, (abortSignal) =>
        this.client(vaultName).getSecret(name, { abortSignal, ...(version ? { version } : {}) }),
      );
      const read = secret.properties.version;
      if (secret.value === undefined || !read) throw new SecretReadError("Unavailable", `Key Vault answered no value for the ${what}`);
      if (secret.properties.enabled === false) throw new SecretReadError("Disabled", `The ${what} is disabled`);
      return { value: secret.value, version: read, enabled: true };
    } catch (err) {
      if (err instanceof SecretReadError) throw err;
      if (err instanceof DeadlineExceededError) throw new SecretReadError("Unavailable", `Key Vault did not answer in time reading the ${what}`, undefined, { cause: err });
      const status = statusOf(err);
      if (status === 404) throw new SecretReadError("NotFound", `The ${what} was not found`, undefined, { cause: err });
      if (status === 403 && disabled(err)) throw new SecretReadError("Disabled", `The ${what} is disabled`, undefined, { cause: err });
      if (status === 401 || status === 403) throw new SecretReadError("Forbidden", `The service's identity may not read the ${what} (${status})`, undefined, { cause: err });
      if (status === 429) throw new SecretReadError("Throttled", `Key Vault throttled reading the ${what}`, retryAfterOf(err), { cause: err });
      throw new SecretReadError("Unavailable", `Key Vault could not be reached reading the ${what} (${status ?? "no answer"})`, status === undefined ? undefined : retryAfterOf(err), { cause: err });
    }
  }
}
