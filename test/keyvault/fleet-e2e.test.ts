/**
 * Key Vault references at fleet scale, end to end: an assignment over 200 clusters (each with its own
 * agent key and reference agent) whose SSH key comes from the vault (the real SecretClient against the
 * stand-in). Every agent unseals the vault's key (its report's repositoryPublicKey is that key's public
 * half); the vault is read once for all of them; a cluster registered later gets it; a rotation in the
 * vault reaches every cluster within the refresh interval (1 s here) without any ARM call. Then, with an
 * injected clock and a 60-second window: a cluster offline for longer than the window gets the key on its
 * return, never Failed for expiry, and after the window and a sweep no copy older than the window is
 * left, the raw store never held a value in clear, and deleting the assignment leaves no copy at all
 * (on SQLite and on Cosmos DB).
 */
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { sshPublicKeyOf } from "../../src/agent/ssh-public-key.js";
import { ManualClock } from "../../src/ports/clock.js";
import { Persistence } from "../../src/persistence/index.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationPath, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";
import { cosmosItems, findIn, readSqliteFiles } from "../helpers/raw-store.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import type { Store } from "../../src/store/port.js";
import type { FakeSecretVault } from "./fake-secret-vault.js";

const FLEET = Number(process.env.KV_FLEET_CLUSTERS ?? 200);
const RG = "rg-fleet";
const REF = { keyVaultResourceId: vaultId("fleet-kv"), secretName: "fleet-deploy-key" };

interface Member {
  name: string;
  agent: Agent;
}

async function register(server: TestServer, request: ReturnType<typeof client>, name: string, now?: () => number): Promise<Member> {
  const key = generateAgentKey("ec");
  const put = await request(`${clusterPath(name, SUB, RG)}?api-version=2024-01-01`, { method: "PUT", body: { ...clusterBody(key.publicKeyB64), tags: { ring: "prod" } } });
  if (put.status !== 201 && put.status !== 200) throw new Error(put.text);
  const privateKey = loadAgentKey(key.privateKeyPem);
  const agentClient = new AgentClient({ serviceUrl: server.url, clusterId: put.json.id, privateKey, ca: server.ca, ...(now ? { now } : {}) });
  return { name, agent: new Agent({ client: agentClient, privateKey, outDir: tempDir("kv-fleet-") }) };
}

/** every agent polls once; the names of those that applied something */
async function pollAll(members: Member[]): Promise<string[]> {
  const applied: string[] = [];
  for (let i = 0; i < members.length; i += 25) {
    const wave = members.slice(i, i + 25);
    // a kept-alive connection the server closed while idle (10 s) fails once: the agent's run loop retries, so does this
    const results = await Promise.all(wave.map((m) => m.agent.runOnce().catch(() => m.agent.runOnce())));
    results.forEach((r, j) => {
      if (r.applied.length > 0) applied.push(wave[j]?.name ?? "");
    });
  }
  return applied;
}

const assignment = () => assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }, { repositoryUrl: "git@github.com:example/fleet.git", operatorInstanceName: "fleet", keyVaultReferences: { sshPrivateKey: REF } });

let kv: FakeSecretVault;
let reader: Awaited<ReturnType<typeof startSecretVault>>["reader"];
let cosmos: CosmosTestServer;
t.before(async () => {
  ({ kv, reader } = await startSecretVault());
  cosmos = await startCosmos();
});
t.teardown(async () => {
  await kv.stop();
  await cosmos.close();
});

t.test(`an assignment over ${FLEET} clusters with its SSH key in Key Vault; a later cluster; a rotation within the refresh interval`, async (t) => {
  const server = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] }, assignments: { batchSize: 100 } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  const members: Member[] = [];
  for (let i = 0; i < FLEET; i++) members.push(await register(server, request, `edge-${String(i).padStart(3, "0")}`));

  const first = sshPrivateKeyB64();
  const v1 = kv.set("fleet-kv", "fleet-deploy-key", first);
  const put = await request(withApi(assignmentPath("fleet-baseline")), { method: "PUT", body: assignment() });
  t.equal(put.status, 201, put.text);
  await settle(server);
  const readsBefore = kv.readsOf("fleet-kv", "fleet-deploy-key");
  const report = await server.keyVaultResolver?.runOnce();
  t.equal(report?.configurations, FLEET, "every managed configuration references the vault");
  t.equal(report?.written, FLEET, "each got its copy");
  t.equal(kv.readsOf("fleet-kv", "fleet-deploy-key") - readsBefore, 1, `one vault read for ${FLEET} clusters (cached per vault/secret/version, not per cluster)`);
  t.ok(server.logs.some((l) => l.includes('"audit":"keyVaultSecretRead"') && l.includes(`"clusters":${FLEET}`) && l.includes(v1)), "the read is audited with its cluster count");

  const applied = await pollAll(members);
  t.equal(applied.length, FLEET, "every agent applied it");
  const expected = sshPublicKeyOf(first, "flux-fleet");
  let right = 0;
  for (const m of members) {
    const got = await request(`${configurationPath(m.name, "baseline", SUB, RG)}?api-version=${PREVIEW_API}`);
    if (got.json.properties.repositoryPublicKey === expected && got.json.properties.keyVaultReferencesStatus.appliedVersions?.sshPrivateKey === v1) right++;
  }
  t.equal(right, FLEET, "each agent unsealed the vault's key and reports the version it applied");

  // a cluster registered later
  const late = await register(server, request, "edge-late");
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same(await pollAll([late]), ["edge-late"]);
  const lateView = await request(`${configurationPath("edge-late", "baseline", SUB, RG)}?api-version=${PREVIEW_API}`);
  t.equal(lateView.json.properties.repositoryPublicKey, expected, "the later cluster got the same key");
  members.push(late);

  // rotation, with the resolver running on its own (a pass every 500 ms, reads reused for 500 ms)
  server.keyVaultResolver?.start();
  const second = sshPrivateKeyB64();
  const rotatedAt = Date.now();
  const v2 = kv.set("fleet-kv", "fleet-deploy-key", second);
  const repo = new Persistence(server.store, server.codec);
  const readsAtRotation = kv.readsOf("fleet-kv", "fleet-deploy-key");
  let noticedAt = 0;
  let resolvedAllAt = 0;
  while (Date.now() - rotatedAt < 30_000) {
    if (noticedAt === 0 && kv.readsOf("fleet-kv", "fleet-deploy-key") > readsAtRotation) noticedAt = Date.now();
    const docs = await repo.secrets.getMany(SUB, members.map((m) => configurationPath(m.name, "baseline", SUB, RG)));
    if ([...docs.values()].filter((d) => d.secrets.keyVault?.resolvedVersions.sshPrivateKey === v2).length === members.length) {
      resolvedAllAt = Date.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(resolvedAllAt > 0, "every cluster's desired state carries the new version");
  const noticeMs = (noticedAt || resolvedAllAt) - rotatedAt;
  const resolveMs = resolvedAllAt - rotatedAt;
  // the vault is read again within the refresh interval (plus timer slack on a loaded machine); writing the copies follows
  t.ok(noticeMs <= 1000 + 500, `the vault was read again ${noticeMs} ms after the rotation (refresh interval 1000 ms)`);
  t.comment(`rotation: vault read again after ${noticeMs} ms; the desired state of all ${members.length} clusters carried v2 after ${resolveMs} ms`);
  const rotated = await pollAll(members);
  const deliveredMs = Date.now() - rotatedAt;
  t.equal(rotated.length, members.length, `every agent applied the rotated key at its next poll (${deliveredMs} ms after the rotation)`);
  t.comment(`rotation: every agent applied it by ${deliveredMs} ms (agents polled one after another, 25 at a time)`);
  const sample = await request(`${configurationPath(members[0]?.name ?? "", "baseline", SUB, RG)}?api-version=${PREVIEW_API}`);
  t.equal(sample.json.properties.repositoryPublicKey, sshPublicKeyOf(second, "flux-fleet"));
  t.same(sample.json.properties.keyVaultReferencesStatus.appliedVersions, { sshPrivateKey: v2 });
  await server.keyVaultResolver?.stop();

  const compliance = await request(withApi(`${assignmentPath("fleet-baseline")}/complianceResults`));
  t.equal(compliance.status, 200);
  const all = server.logs.join("\n");
  t.notOk(all.includes(first) || all.includes(second), "no value in any log line");
});

for (const engine of ["sqlite", "cosmos"] as const) t.test(`${engine}: offline longer than the window: the key on return; after the window no old copy, no value in clear`, async (t) => {
  const WINDOW_MS = 60_000;
  const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
  let store: Store | undefined;
  const db = `kv-${Math.random().toString(36).slice(2)}`;
  if (engine === "cosmos") {
    const opened = await openCosmosStore(cosmos, clock, undefined, db);
    await opened.migrate();
    store = opened;
  }
  const server = await startServer({ clock, store, retention: { secretsRetentionMs: WINDOW_MS }, agent: { stalenessMs: 60_000 }, keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  const now = () => clock.now();
  const online = await register(server, request, "on-1", now);
  const offline = await register(server, request, "off-1", now);
  const value = sshPrivateKeyB64();
  kv.set("fleet-kv", "fleet-deploy-key", value);
  t.equal((await request(withApi(assignmentPath("fleet-baseline")), { method: "PUT", body: assignment() })).status, 201);
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same(await pollAll([online]), ["on-1"], "the online cluster gets it; off-1 stays away");

  // 2.5 windows pass; the resolver runs on its interval (simulated: a pass every 10 s of the clock)
  for (let s = 0; s < (WINDOW_MS * 2.5) / 10_000; s++) {
    clock.advance(10_000);
    await server.keyVaultResolver?.runOnce();
    await server.sweeper.runOnce();
  }
  const view = await request(`${configurationPath("off-1", "baseline", SUB, RG)}?api-version=${PREVIEW_API}`);
  t.not(view.json.properties.complianceStatus.complianceState, "Failed", "never Failed for expiry while the reference is valid");
  t.same(await pollAll([offline]), ["off-1"], "back after 2.5 windows, it gets the key");
  const got = await request(`${configurationPath("off-1", "baseline", SUB, RG)}?api-version=${PREVIEW_API}`);
  t.equal(got.json.properties.repositoryPublicKey, sshPublicKeyOf(value, "flux-fleet"));

  // every copy held now was read within the window: the old ones were shredded and purged
  const repo = new Persistence(server.store, server.codec);
  const copies = await repo.secrets.getMany(SUB, ["on-1", "off-1"].map((c) => configurationPath(c, "baseline", SUB, RG)));
  t.equal(copies.size, 2);
  for (const c of copies.values()) t.ok((c.expiresAt ?? Infinity) - clock.now() <= WINDOW_MS && (c.secrets.keyVault?.resolvedAt ?? 0) > clock.now() - WINDOW_MS, "each copy is younger than the window");
  const raw =
    engine === "sqlite"
      ? readSqliteFiles(server.dataDir).map((f) => ({ name: f.name, text: f.bytes }))
      : (await cosmosItems(cosmos, db)).map((item) => ({ name: String(item.id), text: JSON.stringify(item) }));
  t.ok(raw.length > 0);
  t.same(findIn(raw, value), [], "the value never reached the store in clear (SQLite file and WAL; every Cosmos DB item)");

  // the assignment goes: its configurations' copies go with them; after the window nothing is left
  t.equal((await request(withApi(assignmentPath("fleet-baseline")), { method: "DELETE" })).status, 202);
  await settle(server);
  clock.advance(WINDOW_MS + 1000);
  await server.sweeper.runOnce();
  const left = await server.store.inner.scan({ kind: "configurationSecrets" }, { limit: 100 });
  t.same(left.items.map((d) => d.key), [], "no copy left after the window");
  const keys = await server.store.inner.scan({ kind: "secretKey" }, { limit: 100 });
  t.same(keys.items.map((d) => d.key), [], "and no key that could open one");
});
