/**
 * The reconciler survives what production does to it, on both store adapters:
 * - a replica crashes in the middle of a rollout batch; another replica takes the lease over when it
 *   expires, resumes from the recorded cursor and finishes: every cluster's configuration was written
 *   exactly once (generation 1), none is missing;
 * - two replicas reconciling at the same time (one lease) write each configuration once.
 */
import t from "tap";
import type { Principal } from "../../src/ports/principal.js";
import { clusterRef, configurationRef } from "../../src/arm/resource-ids.js";
import type { Clock } from "../../src/ports/clock.js";
import { MovableClock } from "../helpers/movable-clock.js";
import { cosmosBackend, sqliteBackend, type Backend } from "../helpers/store-backends.js";
import type { Store } from "../../src/store/port.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, SUB } from "../helpers/fixtures.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { assignmentBody, assignmentPath, CLUSTER_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

const CLUSTERS = 23;
const BATCH = 5;
/**
 * The reconciler's lease. It runs out when the test moves the replicas' clock on, never by itself: with a
 * lease of a few seconds of real time, starting replica B (a server, a store connection) on a loaded machine
 * could outlast A's lease, and B ran before the test looked ("B waits while A's lease is live").
 */
const LEASE_MS = 120_000;


const replica = (backend: Backend, store: Store, holder: string, clock: Clock) =>
  startServer({ dataDir: backend.dataDir, store, clock, retention: { holder }, assignments: { batchSize: BATCH, leaseMs: LEASE_MS } });

const principalOf = (server: TestServer): Principal => ({ tenantId: server.identity.tenantId, objectId: server.identity.objectId, name: "test", kind: "User" });

async function generations(server: TestServer, rg: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CLUSTERS; i++) {
    const ref = configurationRef(clusterRef(SUB, rg, `c${i}`), "baseline");
    out.push(await server.services.configurations.get(principalOf(server), ref).then((v) => v.record.generation, () => 0));
  }
  return out;
}

async function registerClusters(server: TestServer, rg: string): Promise<void> {
  const request = client(server.url, server.ca, server.token);
  for (let i = 0; i < CLUSTERS; i++) {
    const res = await request(withApi(clusterPath(`c${i}`, SUB, rg), CLUSTER_API), { method: "PUT", body: clusterBody() });
    if (res.status !== 201) throw new Error(res.text);
  }
  await settle(server); // the outbox of the registrations (no assignment yet)
}

for (const make of [sqliteBackend, cosmosBackend]) {
  t.test(`on ${make.name.replace("Backend", "")}`, async (t) => {
    const backend = await make();
    t.teardown(() => backend.close());
    const clock = new MovableClock();

    t.test("a crash mid-batch, then another replica: exactly once per cluster", async (t) => {
      const a = await replica(backend, await backend.open(), "replica-a", clock);
      await registerClusters(a, "rg-crash");
      const request = client(a.url, a.ca, a.token);
      t.equal((await request(withApi(assignmentPath("crash", "rg-crash")), { method: "PUT", body: assignmentBody() })).status, 201);

      // replica A dies after its 12th cluster: two batches recorded, the third committed (its 5 clusters are
      // one commit) but not recorded
      let applied = 0;
      a.reconcilerHooks.afterApply = () => {
        if (++applied === 12) throw new Error("simulated crash");
      };
      const crashed = await (async () => {
        for (;;) await a.reconciler.runOnce();
      })().catch((err: Error) => err.message);
      t.equal(crashed, "simulated crash");
      const midway = (await request(withApi(assignmentPath("crash", "rg-crash")))).json.properties;
      t.match(midway.rollout, { status: "InProgress", clustersProcessed: 10, clustersTotal: CLUSTERS }, "progress recorded per batch: 10 of 23");
      t.equal(midway.provisioningState, "Updating");
      const before = await generations(a, "rg-crash");
      t.equal(before.filter((g) => g === 1).length, 15, "15 clusters had their configuration when A died (the third batch's commit was kept, its progress not)");
      await a.close();

      // replica B: the lease is A's until it expires, then B resumes from the cursor
      const b = await replica(backend, await backend.open(), "replica-b", clock);
      t.teardown(() => b.close());
      const early = await b.reconciler.runOnce();
      t.equal(early.ran, false, "B waits while A's lease is live");
      t.equal((await b.reconciler.runOnce()).ran, false, "still waiting, however long that took");
      clock.advance(LEASE_MS + 100); // A's lease runs out
      const seen: string[] = [];
      b.reconcilerHooks.afterApply = (id) => {
        seen.push(id);
      };
      await settle(b);
      t.equal(seen.length, CLUSTERS - 10, "B resumed at the 11th cluster (the cursor), not from the start");
      t.same(await generations(b, "rg-crash"), new Array(CLUSTERS).fill(1), "every cluster has its configuration, written exactly once (generation 1)");
      const done = (await client(b.url, b.ca, b.token)(withApi(assignmentPath("crash", "rg-crash")))).json.properties;
      t.match(done.rollout, { status: "Completed", clustersProcessed: CLUSTERS });
      t.equal(done.provisioningState, "Succeeded");
    });

    t.test("two replicas at once: one holds the lease, each configuration is written once", async (t) => {
      const a = await replica(backend, await backend.open(), "replica-c", clock);
      const b = await replica(backend, await backend.open(), "replica-d", clock);
      t.teardown(async () => {
        await a.close();
        await b.close();
      });
      clock.advance(LEASE_MS + 100); // the previous test's lease runs out
      await registerClusters(a, "rg-pair");
      const request = client(a.url, a.ca, a.token);
      t.equal((await request(withApi(assignmentPath("pair", "rg-pair")), { method: "PUT", body: assignmentBody() })).status, 201);
      const [ra, rb] = await Promise.all([a.reconciler.runOnce(), b.reconciler.runOnce()]);
      t.ok(ra.ran !== rb.ran, "exactly one replica ran the pass");
      await Promise.all([settle(a), settle(b)]);
      t.same(await generations(b, "rg-pair"), new Array(CLUSTERS).fill(1), "written once each");
    });
  });
}
