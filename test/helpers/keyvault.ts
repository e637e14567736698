/** The secrets stand-in and the service's reader pointed at it, for Key Vault reference tests. */
import type { TokenCredential } from "@azure/identity";
import { KeyVaultSecretReader } from "../../src/keys/key-vault-secrets.js";
import { loadOrCreateTls } from "../../src/server/tls.js";
import { FakeSecretVault } from "../keyvault/fake-secret-vault.js";
import { SUB } from "./fixtures.js";
import { tempDir } from "./server.js";

export const PREVIEW_API = "2026-12-01-preview";

export const vaultId = (name: string, sub = SUB, rg = "rg-vaults"): string => `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${name}`;

export async function startSecretVault(): Promise<{ kv: FakeSecretVault; reader: KeyVaultSecretReader; ca: string }> {
  const tls = await loadOrCreateTls(tempDir("kvs-tls-"), {});
  const kv = new FakeSecretVault(tls);
  await kv.start();
  const credential: TokenCredential = { getToken: async () => ({ token: kv.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  // the stand-in listens on 127.0.0.1 (not *.vault.azure.net): only the challenge's resource check is relaxed
  const reader = new KeyVaultSecretReader({
    credential,
    urlTemplate: `${kv.url}/{name}`,
    clientOptions: { tlsOptions: { ca: tls.cert }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
    timeoutMs: 2000,
  });
  return { kv, reader, ca: tls.cert };
}
