/**
 * The real migration (POST …/migrateToFluxV2 without whatIf), on a manual clock: the v1 configurations are
 * retired and their v2 equivalents created in one commit; protected settings the service still holds are
 * carried over with their ORIGINAL submission time (their expiry does not move); once purged they must be
 * supplied, and are then a new submission; a blocked configuration blocks the whole action and nothing changes.
 * On both engines: SQLite, and Cosmos DB (in-process cosmosdb-server, the real client).
 */
import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { b64, clusterBody, clusterPath, configurationPath, knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { ManualClock } from "../../src/ports/clock.js";
import { Persistence } from "../../src/persistence/index.js";
import type { Store } from "../../src/store/port.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { cosmosItems, findIn, readSqliteFiles } from "../helpers/raw-store.js";

const V1 = "api-version=2024-11-01";
const MV = "api-version=2026-12-01-preview";
const CV = "api-version=2024-01-01";
const WINDOW_MS = 3_600_000;
const T0 = Date.parse("2026-12-01T00:00:00Z");

let server: TestServer;
let http: ReturnType<typeof client>;
let repo: Persistence;
const clock = new ManualClock(T0);

let cosmos: CosmosTestServer | undefined;
let cosmosDb: string | undefined;
t.teardown(() => cosmos?.close());

/** a fresh service on the engine; the migration's one commit is a SQLite transaction or a Cosmos DB batch */
async function open(engine: "sqlite" | "cosmos"): Promise<void> {
  let store: Store | undefined;
  if (engine === "cosmos") {
    cosmos ??= await startCosmos();
    cosmosDb = `mig-${Math.random().toString(36).slice(2)}`;
    const s = await openCosmosStore(cosmos, clock, undefined, cosmosDb);
    await s.migrate();
    store = s;
  }
  else cosmosDb = undefined;
  server = await startServer({ clock, store, retention: { secretsRetentionMs: WINDOW_MS } });
  http = client(server.url, server.ca, server.token);
  repo = new Persistence(server.store.inner, server.codec, { secretsRetentionMs: WINDOW_MS });
}

const migrateCluster = (cluster: string) => `${clusterPath(cluster)}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`;
const migrateOne = (cluster: string, name: string) => `${configurationPath(cluster, name)}/migrateToFluxV2?${MV}`;
const fluxId = (cluster: string, name: string) => `${clusterPath(cluster)}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/${name}`;

async function cluster(name: string): Promise<void> {
  const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody() });
  if (res.status !== 201) throw new Error(res.text);
}

async function v1(clusterName: string, name: string, properties: Record<string, unknown>): Promise<void> {
  const res = await http(`${configurationPath(clusterName, name)}?${V1}`, { method: "PUT", body: { properties } });
  if (res.status !== 201) throw new Error(res.text);
}

/** the store's raw bytes: SQLite's files (WAL included), or every Cosmos DB item */
async function rawStore(): Promise<Array<{ name: string; text: string | Buffer }>> {
  if (cosmos && cosmosDb) return [{ name: "cosmos", text: JSON.stringify(await cosmosItems(cosmos, cosmosDb)) }];
  return readSqliteFiles(server.dataDir).map((f) => ({ name: f.name, text: f.bytes }));
}

const everything = async (): Promise<string> => {
  const kinds = ["configuration", "configurationSecrets", "fluxConfiguration"] as const;
  const lists = await Promise.all(kinds.map((kind) => server.store.inner.list({ kind, partition: SUB.toLowerCase(), includeDeleted: true } as never, { limit: 1000 })));
  return JSON.stringify(lists.map((l) => l.items.map((d) => [d.key, d.etag, d.deleted])));
};

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(engine, async (tt) => {
    await open(engine);
    tt.teardown(() => server.close());
    tt.test("a cluster's two v1 configurations become v2 in one action; held secrets keep their original expiry", async (t) => {
      await cluster("c-mig");
      const key = sshPrivateKeyB64();
      const hosts = knownHostsB64();
      clock.set(T0);
      await v1("c-mig", "ssh", { repositoryUrl: "git@github.com:example/fleet.git", operatorNamespace: "ops", operatorParams: "--git-branch=main --git-path=apps", configurationProtectedSettings: { sshPrivateKey: key }, sshKnownHostsContents: hosts });
      await v1("c-mig", "web", { repositoryUrl: "https://github.com/example/web", operatorNamespace: "web", operatorScope: "namespace", configurationProtectedSettings: { httpsUser: b64("bot-user"), httpsKey: b64("pat-secret") } });
      const heldBefore = await repo.secrets.getMany(SUB, [`${clusterPath("c-mig")}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/ssh`]);
      const expiryBefore = [...heldBefore.values()][0]?.expiresAt;
      t.equal(expiryBefore, T0 + WINDOW_MS);

      clock.advance(10 * 60_000);
      const res = await http(migrateCluster("c-mig"), { method: "POST", body: {} });
      t.equal(res.status, 200, res.text);
      t.equal(res.json.whatIf, false);
      t.same(res.json.value.map((i: any) => i.result), ["Migrated", "Migrated"]);
      for (const secret of [key, "bot-user", b64("bot-user"), "pat-secret", b64("pat-secret")]) t.notOk(res.text.includes(secret), "no secret in the answer");

      for (const name of ["ssh", "web"]) t.equal((await http(`${configurationPath("c-mig", name)}?${V1}`)).status, 404, `v1 ${name} is retired`);
      const v1Docs = await repo.configurations.all(SUB, clusterPath("c-mig") as never);
      t.same(v1Docs.map((d) => [d.record.name, d.deleted, d.record.provisioningState]).sort(), [["ssh", true, "Deleting"], ["web", true, "Deleting"]], "tombstones the agent is told to remove");
      const v1Secrets = await repo.secrets.getMany(SUB, v1Docs.map((d) => d.record.id));
      t.equal(v1Secrets.size, 0, "the v1 secrets are shredded");

      const v2 = new Map((await repo.fluxConfigurations.all(SUB, clusterPath("c-mig") as never)).map((v) => [v.record.name, v]));
      t.same([...v2.keys()].sort(), ["ssh", "web"]);
      const ssh = v2.get("ssh")?.record;
      t.equal(ssh?.spec.gitRepository.url, "ssh://git@github.com/example/fleet.git");
      t.same(ssh?.spec.gitRepository.repositoryRef, { branch: "main" });
      t.same(Object.values(ssh?.spec.kustomizations ?? {}).map((k) => k.path), ["./apps"]);
      t.same(ssh?.secrets.protectedSettingKeys, ["sshPrivateKey"]);
      const web = v2.get("web")?.record;
      t.equal(web?.spec.gitRepository.httpsUser, "bot-user", "v1's protected httpsUser is v2's plain gitRepository.httpsUser");
      t.same(web?.secrets.protectedSettingKeys, ["httpsKey"]);
      t.equal(web?.spec.scope, "namespace");

      const v2Secrets = await repo.secrets.getMany(SUB, [fluxId("c-mig", "ssh"), fluxId("c-mig", "web")]);
      const sshSecrets = v2Secrets.get(fluxId("c-mig", "ssh").toLowerCase());
      t.equal(sshSecrets?.secrets.protectedSettings.sshPrivateKey, key, "the very key, carried over");
      t.equal(sshSecrets?.secrets.sshKnownHostsContents, hosts);
      t.equal(sshSecrets?.expiresAt, T0 + WINDOW_MS, "the 48-hour clock did not restart: same expiry as the v1 secrets");
      t.equal(sshSecrets?.secrets.submittedAt, T0);
      t.equal(v2Secrets.get(fluxId("c-mig", "web").toLowerCase())?.expiresAt, T0 + WINDOW_MS);

      for (const secret of [Buffer.from(key, "base64").toString("utf8"), "bot-user", "pat-secret"]) t.same(findIn(await rawStore(), secret), [], "at rest, every secret stays sealed after the migration");
      const again = await http(`${configurationPath("c-mig", "new")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/x" } } });
      t.equal(again.status, 409, "the cluster now carries Flux v2: a new v1 configuration is refused");
      t.equal((await http(migrateOne("c-mig", "ssh"), { method: "POST", body: {} })).status, 404, "a retired configuration is not migrated twice");
    });

    tt.test("secrets purged after the window: which to supply; supplied ones are a new submission", async (t) => {
      await cluster("c-purged");
      clock.set(T0);
      const key = sshPrivateKeyB64();
      await v1("c-purged", "old", { repositoryUrl: "ssh://git@github.com/example/old.git", configurationProtectedSettings: { sshPrivateKey: key } });
      clock.set(T0 + WINDOW_MS + 1000);
      const what = await http(migrateOne("c-purged", "old"), { method: "POST", body: { whatIf: true } });
      t.equal(what.status, 200);
      t.equal(what.json.value[0].result, "Blocked");
      t.same(what.json.value[0].protectedSettings.missing, ["sshPrivateKey"]);
      const before = await everything();
      const refused = await http(migrateOne("c-purged", "old"), { method: "POST", body: {} });
      t.equal(refused.status, 400, refused.text);
      t.equal(refused.json.error.target, "configurationProtectedSettings.sshPrivateKey");
      t.match(refused.json.error.message, /supply them in configurationProtectedSettings/);
      t.equal(await everything(), before, "a refused migration changes nothing");

      const fresh = sshPrivateKeyB64();
      const done = await http(migrateOne("c-purged", "old"), { method: "POST", body: { configurationProtectedSettings: { sshPrivateKey: fresh } } });
      t.equal(done.status, 200, done.text);
      t.same(done.json.value[0].protectedSettings, { carried: [], supplied: ["sshPrivateKey"], missing: [] });
      const held = await repo.secrets.getMany(SUB, [fluxId("c-purged", "old")]);
      const got = held.get(fluxId("c-purged", "old").toLowerCase());
      t.equal(got?.secrets.protectedSettings.sshPrivateKey, fresh);
      t.equal(got?.expiresAt, T0 + WINDOW_MS + 1000 + WINDOW_MS, "supplied now: kept for the window from now");
    });

    tt.test("all or nothing: one blocked configuration blocks the cluster's action", async (t) => {
      await cluster("c-clash");
      clock.set(T0);
      await v1("c-clash", "a", { repositoryUrl: "https://github.com/example/a" });
      await v1("c-clash", "b", { repositoryUrl: "https://github.com/example/b" });
      const before = await everything();
      const clash = await http(migrateCluster("c-clash"), { method: "POST", body: { configurations: [{ name: "a", fluxConfigurationName: "same" }, { name: "b", fluxConfigurationName: "same" }] } });
      t.equal(clash.status, 409, clash.text);
      t.match(clash.json.error.message, /would both become the fluxConfiguration 'same'/);
      t.equal(await everything(), before, "nothing changed");
      const unknown = await http(migrateCluster("c-clash"), { method: "POST", body: { configurations: [{ name: "zzz" }] } });
      t.equal(unknown.status, 400, "options for a configuration the cluster does not have");
      t.equal(await everything(), before, "nothing changed");
      const twice = await http(migrateCluster("c-clash"), { method: "POST", body: { configurations: [{ name: "a" }, { name: "A" }] } });
      t.equal(twice.status, 400, "a configuration named twice");
      const renamed = await http(migrateCluster("c-clash"), { method: "POST", body: { configurations: [{ name: "b", fluxConfigurationName: "b-v2" }] } });
      t.equal(renamed.status, 200, renamed.text);
      t.same(renamed.json.value.map((i: any) => i.fluxConfigurationId.split("/").at(-1)).sort(), ["a", "b-v2"], "options apply to the configuration they name");
    });

    tt.test("a cluster with more configurations than one commit holds: a clear 409, nothing written", async (t) => {
      await cluster("c-many");
      clock.set(T0);
      for (let i = 0; i < 20; i++) await v1("c-many", `k${i}`, { repositoryUrl: "ssh://git@github.com/example/k.git", configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() }, sshKnownHostsContents: knownHostsB64() });
      const before = await everything();
      const res = await http(migrateCluster("c-many"), { method: "POST", body: {} });
      t.equal(res.status, 409, res.text);
      t.match(res.json.error.message, /more than one commit holds .* Migrate some with the one-configuration action/);
      t.equal(await everything(), before, "nothing changed");
      const one = await http(migrateOne("c-many", "k0"), { method: "POST", body: {} });
      t.equal(one.status, 200, "one at a time works");
    });
  });
}

t.test("one configuration of two: the cluster carries both versions until the other follows", async (t) => {
  await open("sqlite");
  t.teardown(() => server.close());
  await cluster("c-half");
  await v1("c-half", "a", { repositoryUrl: "https://github.com/example/a" });
  await v1("c-half", "b", { repositoryUrl: "https://github.com/example/b" });
  const one = await http(migrateOne("c-half", "a"), { method: "POST", body: {} });
  t.equal(one.status, 200, one.text);
  t.ok(one.json.value[0].warnings.some((w: any) => w.code === "ClusterStillHasFluxV1"));
  const patch = await http(`${clusterPath("c-half")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/a?${V1}`, { method: "PATCH", body: { properties: { suspend: true } } });
  t.equal(patch.status, 409, "as the warning says: the migrated fluxConfiguration cannot change while v1 remains");
  const rest = await http(migrateCluster("c-half"), { method: "POST", body: {} });
  t.equal(rest.status, 200, rest.text);
  t.same(rest.json.value.map((i: any) => i.result), ["Migrated"]);
  const after = await http(`${clusterPath("c-half")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/a?${V1}`, { method: "PATCH", body: { properties: { suspend: true } } });
  t.ok([200, 202].includes(after.status), `and can once the rest followed (${after.status})`);
});
