/**
 * Two replicas on one store, each with its Key Vault resolver: one pass at a time holds the lease (the
 * other's pass is skipped), the vault is read once and every copy written once; when the holder stops, the
 * other takes over once the lease has expired and picks up a rotation.
 */
import path from "node:path";
import t from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";
import { startSecretVault, vaultId } from "../helpers/keyvault.js";

t.test("one resolver at a time across replicas; the other takes over", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
  const dir = tempDir("kv-replicas-");
  const file = path.join(dir, "store.db");
  const storeA = new SqliteStore(file, clock);
  await storeA.migrate();
  const storeB = new SqliteStore(file, clock);
  const keyVault = { reader, refreshMs: 60_000, allowedVaults: [`${vaultId("fleet-kv")}=*`] };
  const a = await startServer({ dataDir: dir, store: storeA, clock, keyVault, retention: { holder: "replica-a" } });
  const b = await startServer({ dataDir: dir, store: storeB, clock, keyVault, retention: { holder: "replica-b" } });
  t.teardown(async () => {
    await a.close().catch(() => undefined);
    await b.close();
  });
  const request = client(a.url, a.ca, a.token);
  for (let i = 0; i < 20; i++) t.equal((await request(`${clusterPath(`r${i}`, SUB, "rg-r")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() })).status, 201);
  kv.set("fleet-kv", "k", sshPrivateKeyB64());
  const put = await request(withApi(assignmentPath("fleet")), { method: "PUT", body: assignmentBody({}, { repositoryUrl: "git@github.com:example/fleet.git", keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "k" } } }) });
  t.equal(put.status, 201, put.text);
  await settle(a);

  const [ra, rb] = await Promise.all([a.keyVaultResolver?.runOnce(), b.keyVaultResolver?.runOnce()]);
  t.equal([ra?.ran, rb?.ran].filter(Boolean).length, 1, "exactly one replica's pass ran");
  t.equal((ra?.written ?? 0) + (rb?.written ?? 0), 20, "every copy written once");
  t.equal(kv.readsOf("fleet-kv", "k"), 1, "the vault read once");
  const holder = ra?.ran ? a : b;
  const other = holder === a ? b : a;

  // the holder stops; after the lease expires the other replica resolves a rotation
  await holder.keyVaultResolver?.stop();
  const v2 = kv.set("fleet-kv", "k", sshPrivateKeyB64());
  clock.advance(5_000);
  t.equal((await other.keyVaultResolver?.runOnce())?.ran, false, "the lease is still the stopped holder's");
  clock.advance(61_000);
  const taken = await other.keyVaultResolver?.runOnce();
  t.equal(taken?.ran, true, "taken over after the lease expired");
  t.equal(taken?.written, 20, "the rotation reached every copy");
  t.ok(other.logs.some((l) => l.includes('"audit":"keyVaultSecretRead"') && l.includes(v2) && l.includes('"clusters":20')));
});
