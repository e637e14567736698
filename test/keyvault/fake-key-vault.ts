/**
 * A local stand-in for Azure Key Vault's keys API, for tests only (no runnable Key Vault exists
 * here). It speaks the real wire protocol the `@azure/keyvault-keys` client uses, over HTTPS:
 * - the challenge handshake: a request without a bearer token gets 401 with
 *   `WWW-Authenticate: Bearer authorization="...", resource="https://vault.azure.net"`;
 * - GET /keys/{name}[/{version}] -> KeyBundle (RSA public part only: the private key never leaves);
 * - POST /keys/{name}/{version}/wrapkey and /unwrapkey with RSA-OAEP-256, base64url values;
 * - errors as `{"error":{"code","message"}}`; 429 with Retry-After when throttling; dropped
 *   connections during an outage; 403 for a disabled version; in "stall" mode a request is accepted
 *   and never answered (a vault that answers after 30 s, or never).
 * Every call is counted, so tests can prove what the service's cache saves. The server, the challenge
 * and the fault modes are vault-server.ts's, shared with the secrets stand-in.
 */
import crypto from "node:crypto";
import { FakeVaultServer, type VaultExchange } from "./vault-server.js";

interface KeyVersion {
  version: string;
  privateKey: crypto.KeyObject;
  publicJwk: crypto.JsonWebKey;
  enabled: boolean;
  created: number;
}

export interface FakeKeyVaultCalls {
  challenge: number;
  getKey: number;
  wrapKey: number;
  unwrapKey: number;
}

export class FakeKeyVault extends FakeVaultServer {
  readonly calls: FakeKeyVaultCalls = { challenge: 0, getKey: 0, wrapKey: 0, unwrapKey: 0 };
  private readonly keys = new Map<string, KeyVersion[]>();

  constructor(tls: { key: string; cert: string }) {
    super(tls);
    // the challenge count lives in the shared server; calls.challenge reads it
    Object.defineProperty(this.calls, "challenge", { get: () => this.challenges, set: (v: number) => (this.challenges = v), enumerable: true });
  }

  /** creates the key or a new version of it; the new version becomes current */
  rotate(name: string): string {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const version = crypto.randomBytes(16).toString("hex");
    const list = this.keys.get(name) ?? [];
    list.push({ version, privateKey, publicJwk: publicKey.export({ format: "jwk" }), enabled: true, created: Math.floor(Date.now() / 1000) });
    this.keys.set(name, list);
    return version;
  }

  disable(name: string, version: string): void {
    const v = this.keys.get(name)?.find((k) => k.version === version);
    if (!v) throw new Error("no such version");
    v.enabled = false;
  }

  resetCalls(): void {
    Object.assign(this.calls, { challenge: 0, getKey: 0, wrapKey: 0, unwrapKey: 0 });
  }

  private bundle(name: string, v: KeyVersion) {
    return {
      key: { kid: `${this.url}/keys/${name}/${v.version}`, kty: "RSA", key_ops: ["wrapKey", "unwrapKey"], n: v.publicJwk.n, e: v.publicJwk.e },
      attributes: { enabled: v.enabled, created: v.created, updated: v.created, recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 },
    };
  }

  protected route({ method, url, body: text, send, fail }: VaultExchange): void {
    const m = /^\/keys\/([^/]+)(?:\/([^/]*))?(?:\/(wrapkey|unwrapkey))?\/?$/.exec(url.pathname);
    if (!m) return fail(404, "NotFound", "no such route");
    const [, name = "", versionPart, op] = m;
    const versions = this.keys.get(name);
    if (!versions || versions.length === 0) return fail(404, "KeyNotFound", `A key with (name/id) ${name} was not found in this key vault.`);
    const v = versionPart ? versions.find((k) => k.version === versionPart) : versions[versions.length - 1];
    if (!v) return fail(404, "KeyNotFound", `A key with (name/id) ${name}/${versionPart} was not found in this key vault.`);

    if (method === "GET" && !op) {
      this.calls.getKey++;
      return send(200, this.bundle(name, v));
    }
    if (method !== "POST" || !op) return fail(405, "MethodNotAllowed", "method not allowed");
    const body = JSON.parse(text || "{}") as { alg?: string; value?: string };
    if (body.alg !== "RSA-OAEP-256") return fail(400, "BadParameter", `unsupported algorithm ${String(body.alg)}`);
    if (!v.enabled) return fail(403, "Forbidden", `Operation ${op === "wrapkey" ? "wrapKey" : "unwrapKey"} is not allowed on a disabled key.`);
    const input = Buffer.from(body.value ?? "", "base64url");
    const kid = `${this.url}/keys/${name}/${v.version}`;
    try {
      if (op === "wrapkey") {
        this.calls.wrapKey++;
        const value = crypto.publicEncrypt({ key: v.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, input);
        return send(200, { kid, value: value.toString("base64url") });
      }
      this.calls.unwrapKey++;
      const value = crypto.privateDecrypt({ key: v.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, input);
      return send(200, { kid, value: value.toString("base64url") });
    } catch {
      return fail(400, "BadParameter", "The parameter is incorrect (decryption failed).");
    }
  }
}
