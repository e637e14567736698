/**
 * Which vaults the service may read for whom (the confused-deputy rule of docs/design/keyvault-references.md,
 * "Trust"). The service reads secrets with its own identity and seals them to a cluster key the caller may
 * hold, so a reference must never let a caller obtain a secret it could not read itself. Checked for the
 * caller at PUT (403 `KeyVaultReferenceNotAllowed` before the configuration or assignment is read or
 * anything is written), and again by the resolver before every read, for the principal the references
 * were accepted for (recorded on the spec: `keyVaultPrincipal`):
 * 1. the vault is in the configuration's own subscription: the subscription is registered to the
 *    caller's tenant (checked before), so the vault is in the caller's tenant and under the same owners;
 *    a vault of another subscription is refused, whatever else says;
 * 2. the `VaultAccessChecker` says the principal may use the vault. The default is the operators'
 *    allow-list (`KEYVAULT_ALLOWED_VAULTS`, parsed here): each entry names a vault (or every vault of a
 *    subscription) and the principals allowed to reference it, or `*` for every principal that may write
 *    configurations in that subscription.
 * The refusal says the same whether the vault is listed for nobody or for other principals.
 */
import { errors } from "../arm/errors.js";
import { quote } from "../arm/quote.js";
import type { Principal } from "../ports/principal.js";
import type { VaultAccessChecker, VaultAccessRequest, VaultPrincipal } from "../ports/vault-access.js";
import type { ConfigurationSpec, SecretReferenceSetting } from "./types.js";
import { SECRET_REFERENCE_SETTINGS } from "./types.js";
import { parseVaultId } from "./validation/keyvault-references.js";

export type { VaultAccessChecker, VaultPrincipal } from "../ports/vault-access.js";

/** one allow-list entry: a vault (or every vault of a subscription) and who may reference it */
export interface VaultAllowEntry {
  /** lower-cased: a vault's resource id, or `/subscriptions/{id}` */
  scope: string;
  /** "*": every principal that may write configurations in the subscription; else object ids and app ids (lower-cased) */
  principals: "*" | { objectIds: string[]; appIds: string[] };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SUBSCRIPTION_SCOPE = /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** a refused allow-list entry: the message says what is wrong and what to write */
export class VaultAllowListError extends Error {}

/**
 * One entry of KEYVAULT_ALLOWED_VAULTS: `<vault id or /subscriptions/{id}>=<principal>|<principal>…`,
 * a principal being an object id (`<guid>` or `oid:<guid>`) or an application's client id
 * (`appid:<guid>`, matched for app-only callers only), or `<scope>=*`. An entry without `=` is refused:
 * who may reference a vault is always written out.
 */
export function parseVaultAllowEntry(text: string): VaultAllowEntry {
  const entry = text.trim();
  const eq = entry.indexOf("=");
  const rawScope = (eq < 0 ? entry : entry.slice(0, eq)).trim().replace(/\/+$/, "");
  const scope = canonicalScope(rawScope);
  if (scope === undefined) throw new VaultAllowListError(`'${rawScope}' is neither a Key Vault resource id (/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}) nor /subscriptions/{id}`);
  if (eq < 0) {
    throw new VaultAllowListError(
      `'${rawScope}' names no principals: write '${rawScope}=<objectId>|appid:<appId>' for the principals that may reference it, or '${rawScope}=*' for every principal that may write configurations in its subscription (docs/design/keyvault-references.md)`,
    );
  }
  const list = entry.slice(eq + 1).split("|").map((p) => p.trim().toLowerCase());
  if (list.length === 1 && list[0] === "*") return { scope, principals: "*" };
  const objectIds: string[] = [];
  const appIds: string[] = [];
  for (const p of list) {
    if (p === "*") throw new VaultAllowListError(`'${rawScope}': '*' stands alone (every principal); it cannot be listed beside principals`);
    const [kind, id] = p.startsWith("appid:") ? ["app", p.slice(6)] : p.startsWith("oid:") ? ["object", p.slice(4)] : ["object", p];
    if (!GUID.test(id ?? "")) throw new VaultAllowListError(`'${rawScope}': '${p || "(empty)"}' is not a principal: use an object id (a GUID, or oid:<GUID>) or appid:<GUID>`);
    const into = kind === "app" ? appIds : objectIds;
    if (into.includes(id as string)) throw new VaultAllowListError(`'${rawScope}': '${p}' is listed twice`);
    into.push(id as string);
  }
  return { scope, principals: { objectIds, appIds } };
}

/** the entries of KEYVAULT_ALLOWED_VAULTS (comma-separated); a scope may be listed once */
export function parseVaultAllowList(entries: readonly string[]): VaultAllowEntry[] {
  const parsed = entries.map((e) => e.trim()).filter(Boolean).map(parseVaultAllowEntry);
  const seen = new Set<string>();
  const names = new Map<string, string>();
  for (const e of parsed) {
    if (seen.has(e.scope)) throw new VaultAllowListError(`'${e.scope}' is listed twice: list its principals in one entry, separated by '|'`);
    seen.add(e.scope);
    // the service reaches a vault by its name alone (KEYVAULT_URL_TEMPLATE): a name is one vault, in one place
    const name = parseVaultId(e.scope)?.name.toLowerCase();
    if (name === undefined) continue;
    const other = names.get(name);
    if (other !== undefined) throw new VaultAllowListError(`'${e.scope}' and '${other}' name the same vault '${name}' (vault names are global): list it once, under the resource id where it is`);
    names.set(name, e.scope);
  }
  // the service reaches a vault by name (the name is global; the subscription and group of a reference's id are
  // only the caller's claim): a subscription-wide scope could not tell a vault of its subscription from one of another
  const wide = parsed.filter((e) => SUBSCRIPTION_SCOPE.test(e.scope));
  if (wide.length > 1) {
    throw new VaultAllowListError(
      `'${wide[0]?.scope}' and '${wide[1]?.scope}': at most one subscription-wide scope. The service reaches a vault by its name (KEYVAULT_URL_TEMPLATE) and cannot check which subscription a referenced vault is in, so a writer of one subscription could name a vault of the other; list the vaults of all but one subscription by resource id (docs/design/keyvault-references.md)`,
    );
  }
  return parsed;
}

/** an entry as written canonically (lower-cased, prefixed principals) */
export function formatVaultAllowEntry(e: VaultAllowEntry): string {
  const principals = e.principals === "*" ? "*" : [...e.principals.objectIds.map((id) => `oid:${id}`), ...e.principals.appIds.map((id) => `appid:${id}`)].join("|");
  return `${e.scope}=${principals}`;
}

function canonicalScope(scope: string): string | undefined {
  const lower = scope.toLowerCase();
  if (SUBSCRIPTION_SCOPE.test(lower)) return lower;
  return parseVaultId(scope) ? lower : undefined;
}

/** the default VaultAccessChecker: the operators' allow-list (nothing listed: nothing allowed) */
export class AllowListVaultAccess implements VaultAccessChecker {
  constructor(private readonly entries: readonly VaultAllowEntry[]) {}

  mayUse({ subscriptionId, vaultId, principal }: VaultAccessRequest): Promise<boolean> {
    return Promise.resolve(this.allows(subscriptionId, vaultId, principal));
  }

  private allows(subscriptionId: string, vaultId: string, principal: VaultPrincipal): boolean {
    const vault = parseVaultId(vaultId);
    if (!vault || vault.subscriptionId !== subscriptionId.toLowerCase()) return false;
    const id = vaultId.toLowerCase();
    const name = vault.name.toLowerCase();
    // the service reads the vault by name: a vault listed by its resource id is that vault, wherever a
    // reference claims it is; a subscription-wide scope never covers it under another id (a look-alike id
    // naming another subscription's or group's vault)
    if (this.entries.some((e) => e.scope !== id && parseVaultId(e.scope)?.name.toLowerCase() === name)) return false;
    const objectId = principal.objectId.toLowerCase();
    const appId = principal.appId?.toLowerCase();
    return this.entries.some(
      (e) =>
        (e.scope === id || e.scope === `/subscriptions/${vault.subscriptionId}`) &&
        (e.principals === "*" ||
          e.principals.objectIds.includes(objectId) ||
          // an application's client id only for app-only callers: a user's token names the client it came through
          (principal.kind === "Application" && appId !== undefined && e.principals.appIds.includes(appId))),
    );
  }
}

export const NO_VAULTS: VaultAccessChecker = new AllowListVaultAccess([]);

/** the ids of a verified caller that the trust rule and the record keep (no name, no token) */
export function vaultPrincipalOf(p: Principal): VaultPrincipal {
  return { tenantId: p.tenantId.toLowerCase(), objectId: p.objectId.toLowerCase(), ...(p.appId !== undefined ? { appId: p.appId.toLowerCase() } : {}), kind: p.kind };
}

/**
 * The references of a request body (`raw`: its `keyVaultReferences`), before validation: every
 * setting whose `keyVaultResourceId` is a vault id (whatever else is wrong is validation's 400 later).
 */
function referencedVaults(raw: unknown): [string, string][] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [];
  const out: [string, string][] = [];
  for (const [setting, ref] of Object.entries(raw as Record<string, unknown>)) {
    const id = typeof ref === "object" && ref !== null ? (ref as Record<string, unknown>).keyVaultResourceId : undefined;
    if (typeof id === "string" && parseVaultId(id)) out.push([setting, id]);
  }
  return out;
}

/**
 * Throws 403 for the first reference under `${at}.keyVaultReferences` (`raw`, the request's, before
 * validation) to a vault the caller may not have read for it. Asked before anything is read or written.
 */
export async function checkVaultTrust(access: VaultAccessChecker, caller: VaultPrincipal, subscriptionId: string, raw: unknown, at: string): Promise<void> {
  for (const [setting, vaultId] of referencedVaults(raw)) {
    const target = `${at}.keyVaultReferences.${setting}.keyVaultResourceId`;
    if (parseVaultId(vaultId)?.subscriptionId !== subscriptionId.toLowerCase()) {
      throw errors.keyVaultReferenceNotAllowed(
        target,
        `The Key Vault ${quote(vaultId)} is not in the subscription ${quote(subscriptionId)}: a configuration may reference only vaults of its own subscription.`,
      );
    }
    if (await access.mayUse({ subscriptionId, vaultId, principal: caller })) continue;
    // the same words whether the vault is listed for nobody or for other principals
    throw errors.keyVaultReferenceNotAllowed(
      target,
      `The caller (object id ${quote(caller.objectId)}) may not reference the Key Vault ${quote(vaultId)} in the subscription ${quote(subscriptionId)}. The service reads a vault only for principals its operators allowed to use it (KEYVAULT_ALLOWED_VAULTS, docs/design/keyvault-references.md).`,
    );
  }
}

/**
 * At resolution: why the service must not read the spec's vaults now (the principal the references were
 * accepted for may no longer use one of them), or undefined. Names the principal and the vault, never
 * which other principals may. Rejects when the checker cannot tell.
 */
export async function resolutionTrustFailure(access: VaultAccessChecker, subscriptionId: string, spec: ConfigurationSpec): Promise<string | undefined> {
  const refs = spec.keyVaultReferences ?? {};
  const principal = spec.keyVaultPrincipal;
  for (const setting of SECRET_REFERENCE_SETTINGS as readonly SecretReferenceSetting[]) {
    const ref = refs[setting];
    if (!ref) continue;
    const vault = parseVaultId(ref.keyVaultResourceId);
    const name = vault?.name ?? ref.keyVaultResourceId;
    if (!principal) {
      return `The Key Vault references of this configuration were accepted before the service recorded who may use them: the service does not read vault '${name}' for it. A PUT of the configuration (or of its assignment) by a principal allowed to use the vault resumes the reads.`;
    }
    const allowed = vault?.subscriptionId === subscriptionId.toLowerCase() && (await access.mayUse({ subscriptionId, vaultId: ref.keyVaultResourceId, principal }));
    if (!allowed) {
      return `The principal the Key Vault references were accepted for (object id '${principal.objectId}') may no longer use vault '${name}' in this subscription: the service stopped reading it for '${setting}'. The cluster keeps the secrets it last received until they expire; a PUT of the configuration (or of its assignment) by a principal allowed to use the vault, or the operators allowing this one again, resumes the reads.`;
    }
  }
  return undefined;
}
