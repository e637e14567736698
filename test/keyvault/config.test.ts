/** The Key Vault reference settings of the environment: defaults, the allow-list's forms, refusals. */
import t from "tap";
import { ConfigError, loadConfig } from "../../src/config.js";
import { vaultId } from "../helpers/keyvault.js";
import type { VaultPrincipal } from "../../src/ports/vault-access.js";

const OID = "11111111-2222-3333-4444-555555555555";
const OID2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const APP = "99999999-8888-7777-6666-555555555555";
const SUB_AA = "/subscriptions/00000000-0000-0000-0000-0000000000AA";

t.test("KEYVAULT_* settings", async (t) => {
  const defaults = loadConfig({}).keyVaultReferences;
  t.same(defaults, { refreshMs: 300_000, urlTemplate: "https://{name}.vault.azure.net", allowedVaults: [] }, "refresh 300 s, public cloud, nothing allowed");
  const id = vaultId("Fleet-KV");
  const set = loadConfig({
    KEYVAULT_SECRET_REFRESH_SECONDS: "1",
    KEYVAULT_URL_TEMPLATE: "https://{name}.vault.usgovcloudapi.net",
    KEYVAULT_ALLOWED_VAULTS: ` ${id}/ = ${OID.toUpperCase()} | appid:${APP} | oid:${OID2} ,${SUB_AA}=*`,
  }).keyVaultReferences;
  t.equal(set.refreshMs, 1000);
  t.equal(set.urlTemplate, "https://{name}.vault.usgovcloudapi.net");
  t.same(
    set.allowedVaults,
    [`${id.toLowerCase()}=oid:${OID}|oid:${OID2}|appid:${APP}`, `${SUB_AA.toLowerCase()}=*`],
    "trimmed, lower-cased, no trailing slash, principals prefixed; '*' kept as written",
  );
});

t.test("KEYVAULT_ALLOWED_VAULTS refusals name the entry and what to write", async (t) => {
  const cases: [string, RegExp][] = [
    ["/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s=*", /is neither a Key Vault resource id \(.*\) nor \/subscriptions\/\{id\}$/],
    [`fleet-kv=${OID}`, /'fleet-kv' is neither/],
    // an entry without principals: who may reference a vault is always written out
    [vaultId("fleet-kv"), /names no principals: write '.*=<objectId>\|appid:<appId>' .* or '.*=\*'/],
    [SUB_AA, /names no principals/],
    [`${vaultId("fleet-kv")}=`, /'\(empty\)' is not a principal/],
    [`${vaultId("fleet-kv")}=someone@contoso.com`, /'someone@contoso.com' is not a principal: use an object id/],
    [`${vaultId("fleet-kv")}=appid:not-a-guid`, /is not a principal/],
    [`${vaultId("fleet-kv")}=tid:${OID}`, /is not a principal/],
    [`${vaultId("fleet-kv")}=*|${OID}`, /'\*' stands alone/],
    [`${vaultId("fleet-kv")}=${OID}|oid:${OID}`, /listed twice/],
    [`${vaultId("fleet-kv")}=${OID},${vaultId("FLEET-KV")}=${OID2}`, /listed twice: list its principals in one entry/],
  ];
  for (const [value, message] of cases) {
    const err = t.throws(() => loadConfig({ KEYVAULT_ALLOWED_VAULTS: value }), ConfigError, value) as Error;
    t.match(err.message, /^KEYVAULT_ALLOWED_VAULTS: /, "says which setting");
    t.match(err.message, message, value);
  }
  for (const env of [{ KEYVAULT_URL_TEMPLATE: "http://{name}.vault.azure.net" }, { KEYVAULT_URL_TEMPLATE: "https://vault.example" }, { KEYVAULT_SECRET_REFRESH_SECONDS: "0" }]) {
    t.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
  }
});

t.test("the allow-list's meaning: scope, principals, app ids for app-only callers", async (t) => {
  const { AllowListVaultAccess, parseVaultAllowList } = await import("../../src/domain/keyvault-trust.js");
  const SUB = "00000000-0000-0000-0000-000000000001";
  const OTHER = "00000000-0000-0000-0000-0000000000aa";
  const access = new AllowListVaultAccess(
    parseVaultAllowList([`${vaultId("fleet-kv")}=${OID}|appid:${APP}`, `${vaultId("other-kv", OTHER)}=${OID2}`, `/subscriptions/${SUB}=oid:${OID2}`]),
  );
  const user = (objectId: string, appId?: string) => ({ tenantId: "t", objectId, ...(appId ? { appId } : {}), kind: "User" as const });
  const app = (objectId: string, appId: string) => ({ tenantId: "t", objectId, appId, kind: "Application" as const });
  const may = (vault: string, principal: VaultPrincipal, sub = SUB) => access.mayUse({ subscriptionId: sub, vaultId: vault, principal });
  t.equal(await may(vaultId("FLEET-KV"), user(OID.toUpperCase())), true, "a listed object id, compared case-insensitively");
  t.equal(await may(vaultId("team-kv"), user(OID)), false, "only that vault");
  t.equal(await may(vaultId("team-kv"), user(OID2)), true, "a subscription entry: every vault of it, for its principals");
  t.equal(await may(vaultId("fleet-kv"), user(OID2)), true, "entries add up: the subscription's principals may use a listed vault too");
  t.equal(await may(vaultId("fleet-kv"), app(APP.replace("9", "1"), APP)), true, "an app id: that application's app-only calls");
  t.equal(await may(vaultId("fleet-kv"), user(OID.replace("1", "7"), APP)), false, "not a user who signed in through that application");
  t.equal(await may(vaultId("fleet-kv", OTHER), user(OID2), SUB), false, "a vault of another subscription than the configuration's, whatever is listed");
  t.equal(await new AllowListVaultAccess(parseVaultAllowList([`/subscriptions/${SUB}=*`])).mayUse({ subscriptionId: SUB, vaultId: vaultId("any-kv"), principal: user(OID) }), true, "'*': every principal");
  t.equal(await new AllowListVaultAccess([]).mayUse({ subscriptionId: SUB, vaultId: vaultId("fleet-kv"), principal: user(OID) }), false, "nothing listed: nothing allowed");
});
