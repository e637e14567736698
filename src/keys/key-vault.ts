/**
 * Azure Key Vault as the KEK: `@azure/keyvault-keys`, RSA-OAEP-256 wrapKey/unwrapKey against a key
 * whose private part never leaves the vault. The current key version is read with getKey and kept for
 * `versionRefreshMs`, so a rotation in the vault takes effect without restart.
 */
import { CryptographyClient, KeyClient, type CryptographyClientOptions, type KeyClientOptions } from "@azure/keyvault-keys";
import type { TokenCredential } from "@azure/identity";
import { KeyRefusedError, KeyUnavailableError, type KekRef, type KeyProvider, type WrappedKey } from "../ports/key-provider.js";

export interface KeyVaultSettings {
  vaultUrl: string;
  keyName: string;
  credential: TokenCredential;
  versionRefreshMs: number;
  /** client options (retries, TLS, challenge verification for a local stand-in) */
  clientOptions?: KeyClientOptions & CryptographyClientOptions;
  now?: () => number;
}

const ALGORITHM = "RSA-OAEP-256";

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** throttling, outage and network failures are transient (503 to the caller); anything else is a refusal */
function translate(err: unknown, what: string): never {
  const status = statusOf(err);
  if (status === undefined || status === 429 || status >= 500) {
    const header = (err as { response?: { headers?: { get(name: string): string | undefined } } }).response?.headers?.get("retry-after");
    const retryAfter = header && /^\d+$/.test(header) ? Number(header) : 5;
    throw new KeyUnavailableError(`Key Vault unavailable during ${what} (${status ?? (err as Error).message})`, retryAfter, { cause: err });
  }
  throw new KeyRefusedError(`Key Vault refused ${what} (${status})`, { cause: err });
}

export class KeyVaultKeyProvider implements KeyProvider {
  readonly kind = "keyvault" as const;
  private readonly keys: KeyClient;
  private readonly cryptoClients = new Map<string, CryptographyClient>();
  private currentVersion?: { ref: KekRef; readAt: number };
  private readonly now: () => number;

  constructor(private readonly settings: KeyVaultSettings) {
    this.keys = new KeyClient(settings.vaultUrl, settings.credential, settings.clientOptions);
    this.now = settings.now ?? Date.now;
  }

  async current(): Promise<KekRef> {
    const cached = this.currentVersion;
    if (cached && this.now() - cached.readAt < this.settings.versionRefreshMs) return cached.ref;
    try {
      const key = await this.keys.getKey(this.settings.keyName);
      const version = key.properties.version;
      if (!version) throw new KeyRefusedError(`Key Vault key ${this.settings.keyName} has no version`);
      this.currentVersion = { ref: { name: this.settings.keyName, version }, readAt: this.now() };
      return this.currentVersion.ref;
    } catch (err) {
      if (err instanceof KeyRefusedError) throw err;
      // a known version keeps serving new DEKs while the vault is briefly unreachable; not asked again
      // before the next refresh, so an outage does not cost a getKey (and its retries) per wrap
      if (cached) {
        this.currentVersion = { ref: cached.ref, readAt: this.now() };
        return cached.ref;
      }
      return translate(err, "getKey");
    }
  }

  private client(kek: KekRef): CryptographyClient {
    const id = `${this.settings.vaultUrl.replace(/\/$/, "")}/keys/${encodeURIComponent(kek.name)}/${encodeURIComponent(kek.version)}`;
    let client = this.cryptoClients.get(id);
    if (!client) {
      client = new CryptographyClient(id, this.settings.credential, this.settings.clientOptions);
      this.cryptoClients.set(id, client);
    }
    return client;
  }

  async wrap(dek: Buffer): Promise<WrappedKey> {
    const kek = await this.current();
    try {
      const result = await this.client(kek).wrapKey(ALGORITHM, dek);
      return { kek, wrapped: Buffer.from(result.result) };
    } catch (err) {
      return translate(err, "wrapKey");
    }
  }

  async unwrap(key: WrappedKey): Promise<Buffer> {
    try {
      const result = await this.client(key.kek).unwrapKey(ALGORITHM, key.wrapped);
      return Buffer.from(result.result);
    } catch (err) {
      return translate(err, "unwrapKey");
    }
  }
}
