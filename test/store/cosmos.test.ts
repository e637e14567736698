/**
 * The conformance suite on the Cosmos DB adapter: the real @azure/cosmos client over HTTPS against
 * @vercel/cosmosdb-server started here. The server does not run TTL, so expiry is proven through
 * the adapter's own expiresAt filter; that real Cosmos DB also removes the items is shown by the
 * ttl each item carries (asserted below) and by the container's defaultTtl.
 */
import crypto from "node:crypto";
import t from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { itemId } from "../../src/store/cosmos/cosmos-store.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { conformance } from "./conformance.js";

let cosmos: CosmosTestServer;
t.before(async () => {
  cosmos = await startCosmos();
});
t.teardown(() => cosmos.close());

// a database per store keeps the tests independent on one server
// the test server applies a batch's writes one by one and keeps those before a failed one
conformance(t, "cosmos", (clock) => openCosmosStore(cosmos, clock, undefined, `db-${crypto.randomUUID()}`), { rollsBackFailedCommit: false });

t.test("cosmos: layout — partition key, per-item ttl from expiresAt, ids safe for any ARM id", async (t) => {
  const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
  const database = `db-${crypto.randomUUID()}`;
  const store = await openCosmosStore(cosmos, clock, undefined, database);
  t.teardown(() => store.close());
  await store.migrate();
  const key = "/subscriptions/x/resourcegroups/rg/providers/microsoft.kubernetes/connectedclusters/c/providers/microsoft.kubernetesconfiguration/sourcecontrolconfigurations/n";
  await store.create({ kind: "configurationSecrets", key, partition: "x", parent: "/c", schemaVersion: 1, body: {}, expiresAt: clock.now() + 48 * 3600_000 });
  const container = cosmos.client().database(database).container("resources");
  const { resource: def } = await container.read();
  t.same(def?.partitionKey?.paths, ["/partition"]);
  const { resource: item } = await container.item(itemId("configurationSecrets", key), "x").read();
  t.equal(item?.ttl, 48 * 3600, "real Cosmos DB deletes it on its own after 48 h");
  t.notMatch(item?.id, /\//, "ids hold no '/'");
  t.ok(await store.migrationsApplied());
});

t.test("cosmos: the adapter probes at open whether the engine takes a patch in a batch (the test server does not: counters are read and written back)", async (t) => {
  const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
  const store = await openCosmosStore(cosmos, clock, undefined, `db-${crypto.randomUUID()}`);
  t.teardown(() => store.close());
  await store.migrate();
  t.equal(store.patchInBatch, false, "the probe found no patch support");
  const marker = { kind: "system" as const, key: "desired:/probe-c1", partition: "x", parent: "/probe-c1", schemaVersion: 1, body: {} };
  await Promise.all([1, 2, 3].map(() => store.commit([{ op: "increment", doc: marker, field: "version", etag: crypto.randomUUID() }]).catch(() => undefined)));
  const version = Number((await store.get("system", "desired:/probe-c1", "x"))?.body.version);
  t.ok(version >= 1 && version <= 3, `racing counters never double-count or lose their store (version ${version})`);
});
