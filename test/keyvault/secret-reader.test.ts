/**
 * The secret reader (src/keys/key-vault-secrets.ts) and the secrets stand-in, driven by the real
 * `@azure/keyvault-secrets` SecretClient: the 401 challenge, setSecret versions, a disabled version,
 * a missing secret, 403 on a vault the identity may not read, 429 with Retry-After, an outage; each
 * failure typed, none carrying the value.
 */
import t from "tap";
import { SecretClient } from "@azure/keyvault-secrets";
import type { TokenCredential } from "@azure/identity";
import { KeyVaultSecretReader } from "../../src/keys/key-vault-secrets.js";
import { SecretReadError } from "../../src/ports/secret-reader.js";
import { loadOrCreateTls } from "../../src/server/tls.js";
import { tempDir } from "../helpers/server.js";
import { FakeSecretVault } from "./fake-secret-vault.js";

let kv: FakeSecretVault;
let ca: string;
t.before(async () => {
  const tls = await loadOrCreateTls(tempDir("kvs-tls-"), {});
  ca = tls.cert;
  kv = new FakeSecretVault(tls);
  await kv.start();
});
t.teardown(() => kv.stop());

const credential = (): TokenCredential => ({ getToken: async () => ({ token: kv.token, expiresOnTimestamp: Date.now() + 3600_000 }) });
const clientOptions = () => ({ tlsOptions: { ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } });
const reader = () => new KeyVaultSecretReader({ credential: credential(), urlTemplate: `${kv.url}/{name}`, clientOptions: clientOptions(), timeoutMs: 2000 });

async function failure(p: Promise<unknown>): Promise<SecretReadError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SecretReadError) return err;
    throw err;
  }
  throw new Error("expected a SecretReadError");
}

t.test("the real SecretClient: challenge, setSecret versions, disable, versions listing", async (t) => {
  const client = new SecretClient(kv.urlOf("vault1"), credential(), clientOptions());
  const challenges = kv.challenges;
  const v1 = await client.setSecret("deploy-key", "first value");
  t.ok(kv.challenges > challenges, "the 401 bearer challenge was answered");
  t.equal(v1.value, "first value");
  const v2 = await client.setSecret("deploy-key", "second value");
  t.not(v1.properties.version, v2.properties.version, "setSecret makes a new version");
  t.equal((await client.getSecret("deploy-key")).value, "second value", "unversioned: the current version");
  t.equal((await client.getSecret("deploy-key", { version: v1.properties.version })).value, "first value");
  const versions: string[] = [];
  for await (const p of client.listPropertiesOfSecretVersions("deploy-key")) versions.push(p.version ?? "");
  t.same(versions.sort(), [v1.properties.version, v2.properties.version].sort());
  const patched = await client.updateSecretProperties("deploy-key", v2.properties.version as string, { enabled: false });
  t.equal(patched.enabled, false);
  const err = (await client.getSecret("deploy-key").catch((e: unknown) => e)) as { statusCode?: number };
  t.equal(err.statusCode, 403, "a disabled version cannot be read");
});

t.test("the reader: current and pinned versions, typed failures without values", async (t) => {
  const r = reader();
  const v1 = kv.set("vault2", "ssh", "PRIVATE-1");
  const v2 = kv.set("vault2", "ssh", "PRIVATE-2");
  t.same(await r.read("vault2", "ssh"), { value: "PRIVATE-2", version: v2, enabled: true });
  t.same(await r.read("Vault2", "ssh", v1), { value: "PRIVATE-1", version: v1, enabled: true }, "vault names are case-insensitive");
  t.equal(r.urlOf("Vault2"), `${kv.url}/vault2`);

  const missing = await failure(r.read("vault2", "nope"));
  t.equal(missing.failure, "NotFound");
  t.match(missing.message, /secret 'nope' of Key Vault 'vault2' was not found/);
  t.equal((await failure(r.read("vault2", "ssh", "0".repeat(32)))).failure, "NotFound", "an unknown version");

  kv.disable("vault2", "ssh", v2);
  const off = await failure(r.read("vault2", "ssh"));
  t.equal(off.failure, "Disabled");
  t.notOk(off.transient);
  t.same(await r.read("vault2", "ssh", v1), { value: "PRIVATE-1", version: v1, enabled: true }, "the other version still reads");

  kv.deny("vault2");
  const denied = await failure(r.read("vault2", "ssh", v1));
  t.equal(denied.failure, "Forbidden");
  kv.deny("vault2", false);

  kv.mode = "throttle";
  kv.retryAfterSeconds = 3;
  const throttled = await failure(r.read("vault2", "ssh", v1));
  t.equal(throttled.failure, "Throttled");
  t.equal(throttled.retryAfterSeconds, 3, "the vault's Retry-After is kept");
  t.ok(throttled.transient);

  kv.mode = "down";
  const down = await failure(r.read("vault2", "ssh", v1));
  t.equal(down.failure, "Unavailable");
  t.ok(down.transient);
  kv.mode = "up";

  for (const e of [missing, off, denied, throttled, down]) {
    t.notMatch(`${e.message} ${JSON.stringify(e)}`, /PRIVATE-/, "no failure carries a value");
  }
  t.same(await r.read("vault2", "ssh", v1), { value: "PRIVATE-1", version: v1, enabled: true }, "back after the outage");
});
