/**
 * Azure's rule "a cluster carries Flux v1 sourceControlConfigurations or Flux v2 fluxConfigurations, not
 * both" under concurrency (issue #16): many concurrent FIRST writes of both kinds on fresh clusters. Each
 * request reads the other kind and then writes; without the per-cluster Flux version document
 * (src/persistence/flux-versions.ts) claimed in each unit of work, two first writes of different kinds on
 * an empty cluster both pass their read and both commit. With it, one commit of the two fails (a lost
 * race), its retry reads again and answers 409 FluxVersionConflict. On both engines: SQLite, and Cosmos
 * DB (in-process cosmosdb-server, the real client, transactional batches).
 *
 * Also: the guard sits in the shared write path (persistence), so a writer that skips the domain's check
 * (an assignment rollout, any future path) is still refused, and the migration's unit keeps the rule.
 */
import t from "tap";
import { agentPublicKey, clusterBody, clusterPath, configurationBody, configurationPath, fluxConfigurationBody, fluxConfigurationPath, SUB } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { Persistence } from "../../src/persistence/index.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Store } from "../../src/store/port.js";
import type { ConfigurationRecord } from "../../src/domain/types.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const CLUSTERS = Number(process.env.RACE_CLUSTERS ?? 12);
const ROUNDS = Number(process.env.RACE_ROUNDS ?? 2);

let cosmos: CosmosTestServer | undefined;
t.teardown(() => cosmos?.close());

async function open(engine: "sqlite" | "cosmos"): Promise<TestServer> {
  let store: Store | undefined;
  if (engine === "cosmos") {
    cosmos ??= await startCosmos();
    const s = await openCosmosStore(cosmos, systemClock, undefined, `race-${Math.random().toString(36).slice(2)}`);
    await s.migrate();
    store = s;
  }
  return startServer(store ? { store } : {});
}

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(engine, async (tt) => {
    const server = await open(engine);
    tt.teardown(() => server.close());
    const http = client(server.url, server.ca, server.token);
    const key = agentPublicKey().publicKeyB64;
    const count = async (cluster: string): Promise<{ v1: number; v2: number }> => {
      const [a, b] = await Promise.all([
        http(`${clusterPath(cluster)}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations?${V}`),
        http(`${clusterPath(cluster)}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations?${V}`),
      ]);
      return { v1: (a.json?.value ?? []).length, v2: (b.json?.value ?? []).length };
    };

    tt.test("concurrent first PUTs of both kinds on fresh clusters: never both kinds afterwards", async (t) => {
      const statuses = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round++) {
        const names = Array.from({ length: CLUSTERS }, (_, i) => `race-${round}-${i}`);
        for (const name of names) {
          const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(key) });
          if (res.status !== 201) throw new Error(res.text);
        }
        // every cluster gets two v1 and two v2 first writes at once, all clusters together
        const writes = names.flatMap((cluster, i) => {
          const v1 = (n: string) => http(`${configurationPath(cluster, n)}?${V}`, { method: "PUT", body: configurationBody() });
          const v2 = (n: string) => http(`${fluxConfigurationPath(cluster, n)}?${V}`, { method: "PUT", body: fluxConfigurationBody() });
          // alternate which kind is sent first, so neither kind always wins
          return i % 2 === 0 ? [v1("v1a"), v2("v2a"), v1("v1b"), v2("v2b")] : [v2("v2a"), v1("v1a"), v2("v2b"), v1("v1b")];
        });
        const answers = await Promise.all(writes);
        for (const res of answers) {
          const label = `${res.status} ${res.status === 201 ? "" : (res.json?.error?.code ?? res.text.slice(0, 80))}`;
          statuses.set(label, (statuses.get(label) ?? 0) + 1);
        }
        for (const [i, cluster] of names.entries()) {
          const { v1, v2 } = await count(cluster);
          const mine = answers.slice(i * 4, i * 4 + 4);
          t.ok(v1 === 0 || v2 === 0, `${cluster}: one Flux version (v1 ${v1}, v2 ${v2})`);
          t.ok(v1 + v2 > 0, `${cluster}: one kind won`);
          t.equal(mine.filter((r) => r.status === 201).length, v1 + v2, `${cluster}: every 201 is kept, nothing else`);
        }
      }
      t.comment(`answers: ${JSON.stringify(Object.fromEntries(statuses))}`);
      const labels = [...statuses.keys()];
      t.ok(labels.every((l) => l.startsWith("201") || l === "409 FluxVersionConflict"), `only 201 and 409 FluxVersionConflict (${labels.join("; ")})`);
      t.ok(labels.includes("409 FluxVersionConflict"), "the losing kind was refused");
    });

    tt.test("a burst of first writes of one kind on one cluster: all kept (the claimants take turns, no 409)", async (t) => {
      await http(`${clusterPath("burst")}?${CV}`, { method: "PUT", body: clusterBody(key) });
      const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => http(`${configurationPath("burst", `b${i}`)}?${V}`, { method: "PUT", body: configurationBody() })));
      t.same([...new Set(answers.map((r) => `${r.status} ${r.json?.error?.code ?? ""}`))], ["201 "], "every create answered 201");
      t.same(await count("burst"), { v1: 24, v2: 0 });
    });

    tt.test("the guard is in the shared write path: a writer that skips the domain's check is refused too", async (t) => {
      await http(`${clusterPath("guarded")}?${CV}`, { method: "PUT", body: clusterBody(key) });
      const created = await http(`${fluxConfigurationPath("guarded", "fx")}?${V}`, { method: "PUT", body: fluxConfigurationBody() });
      t.equal(created.status, 201);
      const repo = new Persistence(server.store.inner, server.codec);
      const cluster = (await repo.clusters.get(SUB, `${clusterPath("guarded")}`.toLowerCase() as never))?.record;
      t.ok(cluster, "the cluster is read");
      const record = {
        id: configurationPath("guarded", "sneaky"),
        name: "sneaky",
        clusterId: cluster?.id,
        spec: { repositoryUrl: "https://github.com/example/repo.git", operatorNamespace: "flux", operatorType: "Flux", operatorScope: "namespace", operatorParams: "", enableHelmOperator: false, operatorInstanceName: "sneaky" },
        generation: 1,
        provisioningState: "Succeeded",
        complianceStatus: { complianceState: "Pending", message: "", messageLevel: "Information" },
        secrets: { protectedSettingKeys: [], hasKnownHosts: false },
        systemData: {},
      } as unknown as ConfigurationRecord;
      await t.rejects(repo.atomically(() => repo.configurations.write(SUB, record, undefined)), { code: "FluxVersionConflict" }, "inside a unit of work");
      await t.rejects(repo.configurations.write(SUB, record, undefined), { code: "FluxVersionConflict" }, "outside one (the guard opens a unit)");
      t.same(await count("guarded"), { v1: 0, v2: 1 }, "nothing was written");
      t.equal(await repo.fluxVersions.state(SUB, cluster!.id), "v2", "the cluster's Flux version is recorded");
      // once the last fluxConfiguration is gone (forceDelete), the cluster may switch
      const gone = await http(`${fluxConfigurationPath("guarded", "fx")}?${V}&forceDelete=true`, { method: "DELETE" });
      t.equal(gone.status, 200);
      await repo.configurations.write(SUB, record, undefined);
      t.equal(await repo.fluxVersions.state(SUB, cluster!.id), "v1", "switched to v1");
      const refused = await http(`${fluxConfigurationPath("guarded", "fx2")}?${V}`, { method: "PUT", body: fluxConfigurationBody() });
      t.equal(refused.json?.error?.code, "FluxVersionConflict", "and v2 is refused now");
    });
  });
}
