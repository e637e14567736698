/**
 * A local stand-in for Azure Key Vault's secrets API, for tests only, driven by the real
 * `@azure/keyvault-secrets` SecretClient. It serves one or more vaults: a vault named `v` lives under the
 * path prefix `/v` (`urlOf("v")`, what KEYVAULT_URL_TEMPLATE points the service at), and the bare URL is
 * the vault named "". Wire protocol (api-version 7.x / 2025-07-01, as the SDK sends it):
 * - GET /secrets/{name}[/{version}] -> SecretBundle (value, id, attributes); a disabled version is 403
 *   `Forbidden` (inner `SecretDisabled`), an unknown name or version 404 `SecretNotFound`;
 * - PUT /secrets/{name} {value, contentType?, tags?} -> a new version, which becomes current;
 * - PATCH /secrets/{name}/{version} {attributes: {enabled}} -> the bundle without its value;
 * - GET /secrets/{name}/versions -> the versions' properties (no values), one page.
 * Shared with the keys stand-in (vault-server.ts): the 401 bearer challenge, 429 + Retry-After in
 * "throttle" mode, dropped connections in "down" mode. `deny(vault)` makes the vault answer 403
 * (the service's identity has no access policy or role there). Every read is counted per secret.
 */
import crypto from "node:crypto";
import { FakeVaultServer, type VaultExchange } from "./vault-server.js";

interface SecretVersion {
  version: string;
  value: string;
  enabled: boolean;
  created: number;
  contentType?: string;
  tags?: Record<string, string>;
}

export class FakeSecretVault extends FakeVaultServer {
  /** GETs of a secret's value that succeeded, by "vault/name" */
  readonly reads = new Map<string, number>();
  private readonly secrets = new Map<string, SecretVersion[]>();
  private readonly denied = new Set<string>();

  /** the URL of the vault named `vault` on this server */
  urlOf(vault: string): string {
    return vault === "" ? this.url : `${this.url}/${vault}`;
  }

  /** creates the secret or a new version of it (current from now on); returns the version */
  set(vault: string, name: string, value: string): string {
    const version = crypto.randomBytes(16).toString("hex");
    const key = `${vault}/${name}`;
    const list = this.secrets.get(key) ?? [];
    list.push({ version, value, enabled: true, created: Math.floor(Date.now() / 1000) });
    this.secrets.set(key, list);
    return version;
  }

  disable(vault: string, name: string, version?: string): void {
    const list = this.secrets.get(`${vault}/${name}`);
    const v = version ? list?.find((s) => s.version === version) : list?.[list.length - 1];
    if (!v) throw new Error("no such secret version");
    v.enabled = false;
  }

  remove(vault: string, name: string): void {
    this.secrets.delete(`${vault}/${name}`);
  }

  /** the service's identity loses (or regains) access to the whole vault: 403 on every secret */
  deny(vault: string, denied = true): void {
    if (denied) this.denied.add(vault);
    else this.denied.delete(vault);
  }

  readsOf(vault: string, name: string): number {
    return this.reads.get(`${vault}/${name}`) ?? 0;
  }

  totalReads(): number {
    let n = 0;
    for (const v of this.reads.values()) n += v;
    return n;
  }

  /** as the real vault writes it; without the vault's path prefix, which the SDK's id parser would refuse */
  private id(_vault: string, name: string, version: string): string {
    return `${this.url}/secrets/${name}/${version}`;
  }

  private bundle(vault: string, name: string, v: SecretVersion, withValue: boolean) {
    return {
      ...(withValue ? { value: v.value } : {}),
      id: this.id(vault, name, v.version),
      ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
      ...(v.tags !== undefined ? { tags: v.tags } : {}),
      attributes: { enabled: v.enabled, created: v.created, updated: v.created, recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 },
    };
  }

  protected route({ method, url, body, send, fail }: VaultExchange): void {
    const m = /^(?:\/(?!secrets\/)([^/]+))?\/secrets\/([^/]+)(?:\/([^/]*))?\/?$/.exec(url.pathname);
    if (!m) return fail(404, "NotFound", "no such route");
    const [, vault = "", rawName = "", versionPart = ""] = m;
    const name = decodeURIComponent(rawName);
    if (this.denied.has(vault)) {
      return fail(403, "Forbidden", `The user, group or application 'appid=00000000-0000-0000-0000-00000000c0de' does not have secrets get permission on key vault '${vault || "vault"};location=eastus'.`);
    }
    const key = `${vault}/${name}`;
    const list = this.secrets.get(key) ?? [];

    if (method === "PUT" && versionPart === "") {
      const parsed = JSON.parse(body || "{}") as { value?: unknown; contentType?: string; tags?: Record<string, string> };
      if (typeof parsed.value !== "string") return fail(400, "BadParameter", "The value is required.");
      this.set(vault, name, parsed.value);
      const v = this.secrets.get(key)?.at(-1) as SecretVersion;
      if (parsed.contentType !== undefined) v.contentType = parsed.contentType;
      if (parsed.tags !== undefined) v.tags = parsed.tags;
      return send(200, this.bundle(vault, name, v, true));
    }
    if (method === "GET" && versionPart === "versions") {
      return send(200, { value: list.map((v) => ({ id: this.id(vault, name, v.version), attributes: this.bundle(vault, name, v, false).attributes })), nextLink: null });
    }
    if (list.length === 0) return fail(404, "SecretNotFound", `A secret with (name/id) ${name} was not found in this key vault.`);
    const v = versionPart ? list.find((s) => s.version === versionPart) : list[list.length - 1];
    if (!v) return fail(404, "SecretNotFound", `A secret with (name/id) ${name}/${versionPart} was not found in this key vault.`);

    if (method === "GET") {
      if (!v.enabled) return send(403, { error: { code: "Forbidden", message: "Operation get is not allowed on a disabled secret.", innererror: { code: "SecretDisabled" } } });
      this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
      return send(200, this.bundle(vault, name, v, true));
    }
    if (method === "PATCH" && versionPart !== "") {
      const parsed = JSON.parse(body || "{}") as { attributes?: { enabled?: boolean }; contentType?: string; tags?: Record<string, string> };
      if (typeof parsed.attributes?.enabled === "boolean") v.enabled = parsed.attributes.enabled;
      if (parsed.contentType !== undefined) v.contentType = parsed.contentType;
      if (parsed.tags !== undefined) v.tags = parsed.tags;
      return send(200, this.bundle(vault, name, v, false));
    }
    return fail(405, "MethodNotAllowed", "method not allowed");
  }
}
