/**
 * The Key Vault key provider, driven by the real `@azure/keyvault-keys` client against the local
 * stand-in (test/keyvault/fake-key-vault.ts): challenge handshake, getKey, wrapKey, unwrapKey,
 * counted to prove the DEK cache (a cold read: one unwrap per DEK; warm reads: none), then
 * throttling and outage (cached reads go on; what needs the vault gets 503 + Retry-After and
 * writes nothing), then KEK rotation with re-wrap and the old version disabled.
 */
import t from "tap";
import type { TokenCredential } from "@azure/identity";
import { KeyVaultKeyProvider } from "../../src/keys/key-vault.js";
import { loadOrCreateTls } from "../../src/server/tls.js";
import { FakeKeyVault } from "../keyvault/fake-key-vault.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const KEY = "kcrp-kek";

let kv: FakeKeyVault;
let ca: string;
t.before(async () => {
  const tls = await loadOrCreateTls(tempDir("kv-tls-"), {});
  ca = tls.cert;
  kv = new FakeKeyVault(tls);
  await kv.start();
  kv.rotate(KEY);
});
t.teardown(() => kv.stop());

function provider(versionRefreshMs = 60_000): KeyVaultKeyProvider {
  const credential: TokenCredential = { getToken: async () => ({ token: kv.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  return new KeyVaultKeyProvider({
    vaultUrl: kv.url,
    keyName: KEY,
    credential,
    versionRefreshMs,
    // the stand-in listens on 127.0.0.1, which is not a *.vault.azure.net host: only this check is relaxed
    clientOptions: { tlsOptions: { ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
  });
}

async function serve(dataDir: string, refreshMs?: number): Promise<{ server: TestServer; http: ReturnType<typeof client> }> {
  const server = await startServer({ dataDir, keyProvider: provider(refreshMs) });
  return { server, http: client(server.url, server.ca, server.token) };
}

const sealedWith = async (server: TestServer) => {
  const versions = new Set<string>();
  for (const kind of ["dataKey", "secretKey"] as const) {
    const page = await server.store.inner.scan({ kind }, { limit: 1000 });
    for (const d of page.items) if (!d.key.startsWith("current:")) versions.add((d.body as { kek: { version: string } }).kek.version);
  }
  return versions;
};

t.test("the real client over the challenge handshake; the cache makes warm reads free", async (t) => {
  const dataDir = tempDir();
  const first = await serve(dataDir);
  t.equal((await first.http(`${clusterPath("kv1")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const put = await first.http(`${configurationPath("kv1", "cfg")}?${V}`, {
    method: "PUT",
    body: configurationBody({ configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() }, sshKnownHostsContents: knownHostsB64() }),
  });
  t.equal(put.status, 201, put.text);
  t.ok(kv.calls.challenge >= 1, "the 401 challenge was answered");
  t.equal(kv.calls.wrapKey, 2, "two DEKs wrapped in the vault: the subscription's data key and the secrets' own key");
  t.equal(kv.calls.unwrapKey, 0, "fresh DEKs are cached: nothing to unwrap");
  await first.server.close();

  // a restarted replica: empty cache
  kv.resetCalls();
  const second = await serve(dataDir);
  t.teardown(() => second.server.close());
  for (let i = 0; i < 30; i++) t.equal((await second.http(`${configurationPath("kv1", "cfg")}?${V}`)).status, 200);
  t.equal(kv.calls.unwrapKey, 2, "30 cold-then-warm reads: exactly one unwrap per DEK (data key, secrets key)");
  const before = kv.calls.unwrapKey;
  for (let i = 0; i < 20; i++) await second.http(`${configurationPath("kv1", "cfg")}?${V}`);
  t.equal(kv.calls.unwrapKey, before, "warm reads make no Key Vault call");
  t.equal(kv.calls.wrapKey, 0);
});

t.test("throttling and outage: cached reads go on; what needs the vault fails 503 and writes nothing", async (t) => {
  const dataDir = tempDir();
  const warm = await serve(dataDir);
  t.equal((await warm.http(`${clusterPath("kv2")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  t.equal((await warm.http(`${configurationPath("kv2", "a")}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);
  await warm.server.close();

  const hot = await serve(dataDir);
  t.teardown(() => hot.server.close());
  t.equal((await hot.http(`${configurationPath("kv2", "a")}?${V}`)).status, 200, "this replica has the DEK cached");

  for (const mode of ["throttle", "down"] as const) {
    // a replica that has not unwrapped anything yet
    const cold = await serve(dataDir);
    t.teardown(() => cold.server.close());
    kv.mode = mode;
    t.equal((await hot.http(`${configurationPath("kv2", "a")}?${V}`)).status, 200, `${mode}: a read whose DEK is cached keeps working`);
    const read = await cold.http(`${configurationPath("kv2", "a")}?${V}`);
    t.equal(read.status, 503, `${mode}: a read that needs an unwrap`);
    t.equal(read.json.error.code, "ServiceUnavailable");
    t.ok(read.headers["retry-after"], "with Retry-After");
    if (mode === "throttle") t.equal(read.headers["retry-after"], "7", "Key Vault's own Retry-After is passed on");
    const write = await cold.http(`${configurationPath("kv2", `b-${mode}`)}?${V}`, { method: "PUT", body: configurationBody({ configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() } }) });
    t.equal(write.status, 503, `${mode}: a write that needs the vault`);
    kv.mode = "up";
    t.equal((await cold.http(`${configurationPath("kv2", `b-${mode}`)}?${V}`)).status, 404, `${mode}: nothing was written`);
    const secrets = await cold.server.store.inner.list({ kind: "configurationSecrets", partition: SUB.toLowerCase() }, { limit: 100 });
    t.notOk(secrets.items.some((d) => d.key.endsWith(`/b-${mode}`)), `${mode}: no secrets document left behind`);
  }
});

t.test("KEK rotation: new version used at once, re-wrap moves every DEK, the old version can be disabled", async (t) => {
  const dataDir = tempDir();
  const a = await serve(dataDir, 0);
  t.teardown(() => a.server.close());
  const created = await a.http(`${clusterPath("kv3")}?${CV}`, { method: "PUT", body: clusterBody() });
  t.equal(created.status, 201, created.text);
  t.equal((await a.http(`${configurationPath("kv3", "old")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) })).status, 201);
  const v1 = [...(await sealedWith(a.server))];
  t.equal(v1.length, 1);

  const v2 = kv.rotate(KEY);
  const other = "00000000-0000-0000-0000-0000000000f2";
  t.equal((await a.http(`${clusterPath("kv3", other)}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201, "a new subscription gets a new data key");
  t.same([...(await sealedWith(a.server))].sort(), [v1[0], v2].sort(), "new DEKs are wrapped under the new version without restart");
  t.equal((await a.http(`${configurationPath("kv3", "old")}?${V}`)).status, 200, "data under the old version still reads");

  const report = await a.server.dataKeys?.rewrap();
  t.ok(report && report.rewrapped >= 2, `re-wrapped ${report?.rewrapped} of ${report?.scanned}`);
  t.same([...(await sealedWith(a.server))], [v2], "every DEK is under the new version");
  t.equal((await a.server.dataKeys?.rewrap())?.rewrapped, 0, "a second run has nothing to do (idempotent)");

  kv.disable(KEY, v1[0] ?? "");
  const fresh = await serve(dataDir, 0);
  t.teardown(() => fresh.server.close());
  t.equal((await fresh.http(`${configurationPath("kv3", "old")}?${V}`)).status, 200, "with v1 disabled, everything still reads (cold cache)");
  t.equal((await fresh.http(`${clusterPath("kv3", other)}?${CV}`)).status, 200);
});
