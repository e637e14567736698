/**
 * The cluster's Flux version document (src/persistence/flux-versions.ts) where the three writers meet
 * (issue #16): the direct migration (flux-migrations.ts), an assignment switching Flux version
 * (assignment-apply.ts) and the one-version guard in the shared write path. On SQLite and on Cosmos DB
 * (in-process cosmosdb-server, the real client, transactional batches).
 * - a migration that retires every v1 configuration of the cluster leaves `v2`, not `mixed`; one that keeps
 *   some leaves `mixed`, and the one that retires the last of them leaves `v2` (each unit stages the v1
 *   tombstones before the fluxConfigurations whose claim lists the live v1 ones);
 * - an assignment switched v1 -> v2 leaves each cluster on v2 (the v1 tombstone staged before the v2 write);
 *   its rollback leaves v1;
 * - a group commit whose one cluster's claim is refused (a user's fluxConfiguration created after the
 *   group's decisions) writes nothing; the reconciler then applies its clusters one by one: each of the
 *   others gets its configuration once (generation 1), the contested one keeps Flux v2 only;
 * - afterwards a first v1 write is refused, and the cluster's fluxConfigurations are replaced without
 *   listing Flux v1 (the document says v2).
 */
import t from "tap";
import { agentPublicKey, clusterBody, clusterPath, configurationBody, configurationPath, fluxConfigurationPath, SUB } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { Persistence } from "../../src/persistence/index.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Store } from "../../src/store/port.js";
import { clusterKeyOf, type ClusterId } from "../../src/arm/resource-ids.js";
import { applyAssignmentMany } from "../../src/domain/assignment-apply.js";
import { ChangeBus } from "../../src/domain/changes.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const MV = "api-version=2026-12-01-preview";

let cosmos: CosmosTestServer | undefined;
t.teardown(() => cosmos?.close());

async function open(engine: "sqlite" | "cosmos"): Promise<TestServer> {
  let store: Store | undefined;
  if (engine === "cosmos") {
    cosmos ??= await startCosmos();
    const s = await openCosmosStore(cosmos, systemClock, undefined, `seams-${Math.random().toString(36).slice(2)}`);
    await s.migrate();
    store = s;
  }
  return startServer(store ? { store } : {});
}

/** a v1 configuration the migration maps without asking for anything (https, no protected settings) */
const plainV1 = () => configurationBody({ repositoryUrl: "https://github.com/example/cluster-config.git", operatorParams: "--git-branch=main", enableHelmOperator: false, helmOperatorProperties: undefined });

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(engine, async (tt) => {
    const server = await open(engine);
    tt.teardown(() => server.close());
    const http = client(server.url, server.ca, server.token);
    const repo = new Persistence(server.store.inner, server.codec);
    const key = agentPublicKey().publicKeyB64;
    const clusterWith = async (name: string, configurations: string[]): Promise<void> => {
      const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(key) });
      if (res.status !== 201) throw new Error(res.text);
      for (const c of configurations) {
        const put = await http(`${configurationPath(name, c)}?${V}`, { method: "PUT", body: plainV1() });
        if (put.status !== 201) throw new Error(put.text);
      }
    };
    const state = (name: string) => repo.fluxVersions.state(SUB, clusterPath(name) as ClusterId);

    tt.test("the cluster action retiring every v1 configuration leaves the cluster on v2, not mixed", async (t) => {
      await clusterWith("all", ["one", "two"]);
      t.equal(await state("all"), "v1");
      const res = await http(`${clusterPath("all")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
      t.equal(res.status, 200, res.text.slice(0, 200));
      t.same((res.json?.value ?? []).map((i: { result: string }) => i.result), ["Migrated", "Migrated"]);
      t.equal(await state("all"), "v2", "no v1 configuration is live: the document says v2");
      const refused = await http(`${configurationPath("all", "late")}?${V}`, { method: "PUT", body: plainV1() });
      t.equal(refused.json?.error?.code, "FluxVersionConflict", "a first v1 write is refused");
      const body = res.json?.value?.[0]?.fluxConfiguration;
      const replaced = await http(`${fluxConfigurationPath("all", "one")}?${V}`, { method: "PUT", body: { properties: { ...body.properties, suspend: true } } });
      t.equal(replaced.status, 200, `its fluxConfigurations are replaced: ${replaced.text.slice(0, 200)}`);
    });

    tt.test("one configuration at a time: mixed while some stay, v2 once the last one goes", async (t) => {
      await clusterWith("each", ["one", "two"]);
      const first = await http(`${configurationPath("each", "one")}/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
      t.equal(first.status, 200, first.text.slice(0, 200));
      t.equal(await state("each"), "mixed", "'two' is still Flux v1");
      const last = await http(`${configurationPath("each", "two")}/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
      t.equal(last.status, 200, last.text.slice(0, 200));
      t.equal(await state("each"), "v2", "the last v1 configuration retired: the document says v2");
    });
    const fluxAssignment = {
      properties: {
        configurationName: "baseline",
        fluxConfiguration: { scope: "cluster", namespace: "flux-baseline", gitRepository: { url: "https://github.com/example/fleet-baseline.git", repositoryRef: { branch: "main" } }, kustomizations: { apps: { path: "./apps" } } },
      },
    };
    const fleet = async (rg: string, n: number): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await http(`${clusterPath(`${rg}-${i}`, SUB, rg)}?${CV}`, { method: "PUT", body: clusterBody(key) });
        if (res.status !== 201) throw new Error(res.text);
        ids.push(clusterPath(`${rg}-${i}`, SUB, rg));
      }
      return ids;
    };

    tt.test("an assignment switched to Flux v2 leaves each cluster on v2; its rollback on v1", async (t) => {
      const ids = await fleet("rg-switch", 4);
      const url = withApi(assignmentPath("fleet", "rg-switch"));
      t.equal((await http(url, { method: "PUT", body: assignmentBody() })).status, 201);
      await settle(server);
      for (const id of ids) t.equal(await repo.fluxVersions.state(SUB, id as ClusterId), "v1", `${id}: v1`);
      t.equal((await http(url, { method: "PUT", body: fluxAssignment })).status, 200);
      await settle(server);
      for (const id of ids) t.equal(await repo.fluxVersions.state(SUB, id as ClusterId), "v2", `${id}: switched, v2 (not mixed)`);
      t.equal((await http(withApi(`${assignmentPath("fleet", "rg-switch")}/rollback`), { method: "POST", body: {} })).status, 202);
      await settle(server);
      for (const id of ids) t.equal(await repo.fluxVersions.state(SUB, id as ClusterId), "v1", `${id}: rolled back, v1`);
    });

    tt.test("a claim refused in one cluster of a group commit: nothing of the group written, then one by one", async (t) => {
      const ids = await fleet("rg-group", 4);
      const url = withApi(assignmentPath("grp", "rg-group"));
      t.equal((await http(url, { method: "PUT", body: assignmentBody({ configurationName: "grp" }) })).status, 201);
      const assignment = (await repo.assignments.get(SUB, assignmentPath("grp", "rg-group")))?.record;
      if (!assignment) throw new Error("the assignment is not stored");
      const contested = ids[2] as string;
      // after every decision of the group (two paces per cluster), before its commit: a user's fluxConfiguration
      let paced = 0;
      const pace = async () => {
        if (++paced !== 2 * ids.length) return;
        const res = await http(`${contested}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/users?${V}`, { method: "PUT", body: fluxAssignment.properties.fluxConfiguration ? { properties: fluxAssignment.properties.fluxConfiguration } : {} });
        if (res.status !== 201) throw new Error(res.text);
      };
      const outcomes = await applyAssignmentMany({ repo, bus: new ChangeBus(), clock: systemClock }, assignment, ids.map((id) => clusterKeyOf(id as ClusterId)), { pace });
      t.equal(paced, 2 * ids.length, "the user's write came after the decisions");
      t.same(outcomes, ids.map(() => undefined), "the group's commit failed: every cluster left to be applied alone");
      for (const id of ids) t.equal((await repo.configurations.page(SUB, id as ClusterId, 5)).items.length, 0, `${id}: nothing of the group was written`);
      await settle(server);
      for (const id of ids) {
        const v1 = (await repo.configurations.page(SUB, id as ClusterId, 5)).items;
        const v2 = (await repo.fluxConfigurations.page(SUB, id as ClusterId, 5)).items;
        if (id === contested) {
          t.same([v1.length, v2.length], [0, 1], "the contested cluster: the user's fluxConfiguration only");
          t.equal(await repo.fluxVersions.state(SUB, id as ClusterId), "v2");
        } else {
          t.same(v1.map((v) => [v.record.name, v.record.generation]), [["grp", 1]], `${id}: its configuration, written once`);
          t.equal(await repo.fluxVersions.state(SUB, id as ClusterId), "v1");
        }
      }
    });
  });
}
