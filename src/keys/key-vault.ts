/**
 * Azure Key Vault as the KEK: `@azure/keyvault-keys`, RSA-OAEP-256 wrapKey/unwrapKey against a key
 * whose private part never leaves the vault. The current key version is read with getKey and kept for
 * `versionRefreshMs`, so a rotation in the vault takes effect without restart.
 */
import { CryptographyClient, KeyClient, type CryptographyClientOptions, type KeyClientOptions } from "@azure/keyvault-keys";
import type { TokenCredential } from "@azure/identity";
import { CircuitBreaker, DeadlineExceededError, isThrottling, withDeadline } from "../ports/circuit-breaker.js";
import { KeyRefusedError, KeyUnavailableError, type KekRef, type KeyProvider, type WrappedKey } from "../ports/key-provider.js";

export interface KeyVaultSettings {
  vaultUrl: string;
  keyName: string;
  credential: TokenCredential;
  versionRefreshMs: number;
  /** client options (retries, TLS, challenge verification for a local stand-in) */
  clientOptions?: KeyClientOptions & CryptographyClientOptions;
  now?: () => number;
  /** each call's deadline (the client's own retries included); default 3000 ms */
  timeoutMs?: number;
  /** fails calls at once while the vault is down; default: 5 failures, 1 s growing to 10 s */
  breaker?: CircuitBreaker;
}

const ALGORITHM = "RSA-OAEP-256";

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** throttling, outage and network failures are transient (503 to the caller); anything else is a refusal */
function translate(err: unknown, what: string): never {
  if (err instanceof KeyUnavailableError || err instanceof KeyRefusedError) throw err;
  if (err instanceof DeadlineExceededError) throw new KeyUnavailableError(`Key Vault did not answer ${what} in time`, 1, { cause: err });
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
  readonly breaker: CircuitBreaker;

  constructor(private readonly settings: KeyVaultSettings) {
    this.keys = new KeyClient(settings.vaultUrl, settings.credential, settings.clientOptions);
    this.now = settings.now ?? Date.now;
    this.breaker = settings.breaker ?? new CircuitBreaker("keyvault", { failureThreshold: 5, openMs: 1000, maxOpenMs: 10_000 });
    // reading the key's current version is the probe: cheap, and it proves wrap/unwrap can work again
    this.breaker.useProbe(() => withDeadline("Key Vault getKey", settings.timeoutMs ?? 3000, (abortSignal) => this.keys.getKey(settings.keyName, { abortSignal })));
  }

  /**
   * One vault call: refused at once while the circuit is open, aborted at the deadline otherwise.
   * Only "the vault is down" opens the circuit; a refusal (403, 404) proves it answered.
   */
  private call<T>(what: string, request: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return this.breaker.run(
      async () => {
        try {
          return await withDeadline(`Key Vault ${what}`, this.settings.timeoutMs ?? 3000, request);
        } catch (err) {
          return translate(err, what);
        }
      },
      (err) => err instanceof KeyUnavailableError && !isThrottling(err),
      (retryAfterMs) => new KeyUnavailableError(`Key Vault unavailable (circuit open: failing fast)`, Math.max(1, Math.ceil(retryAfterMs / 1000))),
    );
  }

  async current(): Promise<KekRef> {
    const cached = this.currentVersion;
    if (cached && this.now() - cached.readAt < this.settings.versionRefreshMs) return cached.ref;
    try {
      const key = await this.call("getKey", (abortSignal) => this.keys.getKey(this.settings.keyName, { abortSignal }));
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
      const result = await this.call("wrapKey", (abortSignal) => this.client(kek).wrapKey(ALGORITHM, dek, { abortSignal }));
      return { kek, wrapped: Buffer.from(result.result) };
    } catch (err) {
      return translate(err, "wrapKey");
    }
  }

  async unwrap(key: WrappedKey): Promise<Buffer> {
    try {
      const result = await this.call("unwrapKey", (abortSignal) => this.client(key.kek).unwrapKey(ALGORITHM, key.wrapped, { abortSignal }));
      return Buffer.from(result.result);
    } catch (err) {
      return translate(err, "unwrapKey");
    }
  }
}
