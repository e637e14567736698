/** The configured key provider and the sealing codec built on it. */
import type { EncryptionSettings, FaultSettings, KeyVaultReferenceSettings } from "../config.js";
import type { SecretReader } from "../ports/secret-reader.js";
import { CircuitBreaker } from "../ports/circuit-breaker.js";
import { DataKeys } from "../crypto/data-keys.js";
import { SealingCodec } from "../crypto/sealing-codec.js";
import type { Clock } from "../ports/clock.js";
import type { KeyProvider } from "../ports/key-provider.js";
import type { Store } from "../store/port.js";
import { LocalKeyFileProvider } from "./local-key-file.js";

export async function createKeyProvider(settings: EncryptionSettings, clock: Clock, faults?: FaultSettings): Promise<KeyProvider> {
  if (settings.keyProvider.kind === "local") return new LocalKeyFileProvider(settings.keyProvider.file);
  // loaded only when chosen: the Azure SDKs cost start-up time the local key file does not need
  const [{ DefaultAzureCredential }, { KeyVaultKeyProvider }] = await Promise.all([import("@azure/identity"), import("./key-vault.js")]);
  return new KeyVaultKeyProvider({
    vaultUrl: settings.keyProvider.vaultUrl,
    keyName: settings.keyProvider.keyName,
    credential: new DefaultAzureCredential(),
    versionRefreshMs: settings.kekRefreshSeconds * 1000,
    clientOptions: { retryOptions: { maxRetries: 2 } },
    now: () => clock.now(),
    ...(faults ? { timeoutMs: faults.keyVaultTimeoutMs, breaker: new CircuitBreaker("keyvault", faults.breaker) } : {}),
  });
}

export function createSealing(store: Store, provider: KeyProvider, settings: Pick<EncryptionSettings, "dekCacheEntries" | "dekCacheSeconds">, clock: Clock) {
  const dataKeys = new DataKeys(store, provider, { cacheEntries: settings.dekCacheEntries, cacheMaxAgeMs: settings.dekCacheSeconds * 1000, now: () => clock.now() });
  const codec = new SealingCodec(dataKeys, { entries: Math.min(5_000, settings.dekCacheEntries), maxAgeMs: Math.min(60_000, settings.dekCacheSeconds * 1000), now: () => clock.now() });
  return { dataKeys, codec };
}

/**
 * The Key Vault secret reader for Key Vault references, with the service's identity (DefaultAzureCredential).
 * Undefined when no vault is allowed: references are then refused at PUT and the Azure SDKs are not loaded.
 */
export async function createSecretReader(settings: KeyVaultReferenceSettings, faults?: FaultSettings): Promise<SecretReader | undefined> {
  if (settings.allowedVaults.length === 0) return undefined;
  const [{ DefaultAzureCredential }, { KeyVaultSecretReader }] = await Promise.all([import("@azure/identity"), import("./key-vault-secrets.js")]);
  return new KeyVaultSecretReader({
    credential: new DefaultAzureCredential(),
    urlTemplate: settings.urlTemplate,
    clientOptions: { retryOptions: { maxRetries: 2 } },
    ...(faults ? { timeoutMs: faults.keyVaultTimeoutMs } : {}),
  });
}
