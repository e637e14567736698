/** The Key Vault reference settings of the environment: defaults, the allow-list's forms, refusals. */
import t from "tap";
import { ConfigError, loadConfig } from "../../src/config.js";
import { vaultId } from "../helpers/keyvault.js";

t.test("KEYVAULT_* settings", async (t) => {
  const defaults = loadConfig({}).keyVaultReferences;
  t.same(defaults, { refreshMs: 300_000, urlTemplate: "https://{name}.vault.azure.net", allowedVaults: [] }, "refresh 300 s, public cloud, nothing allowed");
  const id = vaultId("Fleet-KV");
  const set = loadConfig({ KEYVAULT_SECRET_REFRESH_SECONDS: "1", KEYVAULT_URL_TEMPLATE: "https://{name}.vault.usgovcloudapi.net", KEYVAULT_ALLOWED_VAULTS: ` ${id}/ ,/subscriptions/00000000-0000-0000-0000-0000000000AA` }).keyVaultReferences;
  t.equal(set.refreshMs, 1000);
  t.equal(set.urlTemplate, "https://{name}.vault.usgovcloudapi.net");
  t.same(set.allowedVaults, [id.toLowerCase(), "/subscriptions/00000000-0000-0000-0000-0000000000aa"], "trimmed, lower-cased, no trailing slash");
  for (const env of [
    { KEYVAULT_ALLOWED_VAULTS: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s" },
    { KEYVAULT_ALLOWED_VAULTS: "fleet-kv" },
    { KEYVAULT_URL_TEMPLATE: "http://{name}.vault.azure.net" },
    { KEYVAULT_URL_TEMPLATE: "https://vault.example" },
    { KEYVAULT_SECRET_REFRESH_SECONDS: "0" },
  ]) t.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
});
