/**
 * The cluster's Flux version document (src/persistence/flux-versions.ts) where the three writers meet
 * (issue #16): the direct migration (flux-migrations.ts), an assignment switching Flux version
 * (assignment-apply.ts) and the one-version guard in the shared write path. On SQLite and on Cosmos DB
 * (in-process cosmosdb-server, the real client, transactional batches).
 * - a migration that retires every v1 configuration of the cluster leaves `v2`, not `mixed`; one that keeps
 *   some leaves `mixed`, and the one that retires the last of them leaves `v2` (each unit stages the v1
 *   tombstones before the fluxConfigurations whose claim lists the live v1 ones);
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
import type { ClusterId } from "../../src/arm/resource-ids.js";

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
  });
}
