/**
 * The generic collection (src/persistence/collection.ts) on both engines: a real SQLite file and the
 * real @azure/cosmos client against the Cosmos test server. Typed round trips through a codec, the
 * capped optimistic `patch` (concurrent increments all land; a race that never resolves is a 409),
 * `pages` walking every continuation, the conditional deletes and replaces the jobs rely on, and the
 * aggregates writing only through the writer seam (where one request's writes can later become one commit).
 */
import crypto from "node:crypto";
import path from "node:path";
import t, { type Test } from "tap";
import { ArmError } from "../../src/arm/errors.js";
import { Collection, collectionDeps, lostRace, PATCH_ATTEMPTS, type Place } from "../../src/persistence/collection.js";
import type { BodyCodec } from "../../src/ports/body-codec.js";
import { ManualClock } from "../../src/ports/clock.js";
import { StoreConflictError, StorePreconditionFailedError, type NewDocument, type Store } from "../../src/store/port.js";
import { directWriter, type StoreWriter } from "../../src/persistence/writer.js";
import { Persistence } from "../../src/persistence/index.js";
import { clusterId } from "../../src/arm/resource-ids.js";
import type { ClusterRecord } from "../../src/domain/types.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { tempDir } from "../helpers/server.js";

interface Counter {
  name: string;
  count: number;
}

/** marks bodies so the test sees that every write and read went through the codec */
const taggingCodec: BodyCodec = {
  encode: async (_e, body) => ({ wrapped: body }),
  decode: async (_e, body) => body.wrapped as Record<string, unknown>,
};

const place = (key: string, partition = "p1"): Place => ({ key, partition, parent: "/parent" });

function suite(engine: string, open: (clock: ManualClock) => Promise<Store & { migrate(): Promise<unknown> }>): void {
  async function setup(t: Test) {
    const store = await open(new ManualClock(0));
    await store.migrate();
    t.teardown(() => store.close());
    return { store, counters: new Collection<Counter>(collectionDeps(store, taggingCodec), "system") };
  }

  t.test(`${engine}: write, get and page round-trip records through the codec`, async (t) => {
    const { store, counters } = await setup(t);
    const created = await counters.write(place("c:a"), { name: "a", count: 1 }, undefined);
    t.same((await store.get("system", "c:a", "p1"))?.body, { wrapped: { name: "a", count: 1 } }, "stored encoded");
    t.same((await counters.get("c:a", "p1"))?.record, { name: "a", count: 1 });
    await t.rejects(counters.write(place("c:a"), { name: "a", count: 2 }, undefined), StoreConflictError, "create refuses an existing key");
    await t.rejects(counters.write(place("c:a"), { name: "a", count: 2 }, "stale"), StorePreconditionFailedError);
    await counters.write(place("c:a"), { name: "a", count: 2 }, created.etag);
    t.equal((await counters.get("c:a", "p1"))?.record.count, 2);
    t.equal(await counters.createIfAbsent(place("c:a"), { name: "a", count: 9 }), false, "createIfAbsent leaves one there");
    t.equal((await counters.get("c:a", "p1"))?.record.count, 2);
  });

  t.test(`${engine}: patch creates, then read-modify-writes; concurrent patches all land`, async (t) => {
    const { counters } = await setup(t);
    const bump = () => counters.patch(place("c:n"), (current) => ({ name: "n", count: (current?.record.count ?? 0) + 1 }));
    const first = await bump();
    t.equal(first.written.record.count, 1);
    t.equal(first.previous, undefined, "nothing was replaced");
    const second = await bump();
    t.ok(second.previous, "the replaced document is handed back");
    await Promise.all(Array.from({ length: 4 }, bump));
    t.equal((await counters.get("c:n", "p1"))?.record.count, 6, "no lost update");
  });

  t.test(`${engine}: a patch whose race never resolves gives up after the cap with a 409`, async (t) => {
    const { store } = await setup(t);
    // a writer behind which another replica always changes the document first: every etag is stale
    const base = directWriter(store);
    const raced = { ...base, replace: async (doc: NewDocument, ifMatch: string) => {
      const other = await store.get(doc.kind, doc.key, doc.partition);
      if (other) await store.replace({ ...other, body: other.body }, other.etag);
      return base.replace(doc, ifMatch);
    } };
    const counters = new Collection<Counter>(collectionDeps(store, taggingCodec, raced), "system");
    await counters.write(place("c:x"), { name: "x", count: 0 }, undefined);
    let tries = 0;
    const outcome = await counters.patch(place("c:x"), (current) => {
      tries++;
      return { name: "x", count: (current?.record.count ?? 0) + 1 };
    }, 3).then(() => "written", (e: unknown) => e);
    t.ok(outcome instanceof ArmError && outcome.code === "ConcurrentUpdate", "409 after the cap");
    t.equal(tries, 3, "read and tried exactly the cap");
    t.ok(PATCH_ATTEMPTS > 1, "the default cap retries");
  });

  t.test(`${engine}: pages walks every continuation; a scan crosses partitions`, async (t) => {
    const { counters } = await setup(t);
    for (let i = 0; i < 7; i++) await counters.write({ ...place(`c:${i}`, i % 2 === 0 ? "p1" : "p2") }, { name: String(i), count: i }, undefined);
    const sizes: number[] = [];
    const keys: string[] = [];
    for await (const items of counters.pages({ partition: "p1", parent: "/parent" }, 2)) {
      sizes.push(items.length);
      keys.push(...items.map((d) => d.key));
    }
    t.same(keys, ["c:0", "c:2", "c:4", "c:6"]);
    t.ok(sizes.every((n) => n <= 2), "pages of the asked size");
    let scanned = 0;
    // migration markers are system documents too (Cosmos keeps them in the container): count only ours
    for await (const items of counters.pages({ scan: true }, 3)) scanned += items.filter((d) => d.key.startsWith("c:")).length;
    t.equal(scanned, 7);
  });

  t.test(`${engine}: conditional delete and replace report a lost race as false`, async (t) => {
    const { store, counters } = await setup(t);
    await counters.write(place("c:d"), { name: "d", count: 0 }, undefined);
    const read = await counters.document("c:d", "p1");
    if (!read) throw new Error("missing");
    await counters.write(place("c:d"), { name: "d", count: 1 }, read.etag);
    t.equal(await counters.deleteIfUnchanged(read), false, "changed since read: not deleted");
    t.equal(await counters.replaceIfUnchanged(read, { wrapped: { name: "d", count: 5 } }), false);
    const now = await counters.document("c:d", "p1");
    if (!now) throw new Error("missing");
    t.equal(await counters.replaceIfUnchanged(now, { wrapped: { name: "d", count: 5 } }), true);
    t.equal(await counters.deleteIfUnchanged((await counters.document("c:d", "p1"))!), true);
    t.equal(await store.get("system", "c:d", "p1"), undefined);
    t.ok(lostRace(new StoreConflictError("system", "k")) && lostRace(new StorePreconditionFailedError("system", "k")) && !lostRace(new Error("x")));
  });
}

suite("sqlite", async (clock) => new SqliteStore(path.join(tempDir("kcrp-collection-"), "store.db"), clock));

let cosmos: CosmosTestServer | undefined;
t.teardown(() => cosmos?.close());
suite("cosmos", async (clock) => {
  cosmos ??= await startCosmos();
  return openCosmosStore(cosmos, clock, undefined, `db-${crypto.randomUUID()}`);
});

t.test("sqlite: every write of the aggregates goes through the writer seam, reads never do", async (t) => {
  const clock = new ManualClock(0);
  const store = new SqliteStore(path.join(tempDir("kcrp-collection-"), "store.db"), clock);
  await store.migrate();
  t.teardown(() => store.close());
  const seen: string[] = [];
  const base = directWriter(store);
  const recording: StoreWriter = {
    create: (doc) => (seen.push(`create ${doc.kind}`), base.create(doc)),
    replace: (doc, ifMatch) => (seen.push(`replace ${doc.kind}`), base.replace(doc, ifMatch)),
    delete: (kind, key, partition, ifMatch) => (seen.push(`delete ${kind}`), base.delete(kind, key, partition, ifMatch)),
    increment: (doc, field) => (seen.push(`increment ${doc.kind}`), base.increment(doc, field)),
    deleteMany: (query) => (seen.push("deleteMany"), base.deleteMany(query)),
  };
  // the store's own write methods count what reached it by any path
  let storeWrites = 0;
  for (const name of ["create", "replace", "delete", "deleteMany", "commit"] as const) {
    const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => (storeWrites++, original(...args));
  }
  const p = new Persistence(store, undefined, undefined, recording);
  const sub = "00000000-0000-0000-0000-0000000000aa";
  const id = clusterId(sub, "rg", "c1");
  const cluster = { id, name: "c1", subscriptionId: sub, resourceGroup: "rg", location: "eastus" } as unknown as ClusterRecord;
  const written = await p.clusters.write(cluster, undefined);
  await p.markers.bump(sub, id);
  await p.markers.bump(sub, id);
  await p.outbox.touch(sub, id);
  await p.operations.recordFinished(sub, "op1", id, 1000);
  t.ok(await p.leases.take("job", "me", 0, 100));
  await p.leases.release("job", "me");
  await p.clusters.delete(sub, id, written.etag);
  await p.subscriptions.deleteContent(sub);
  await p.clusters.get(sub, id);
  await p.markers.version(sub, id);
  t.equal(storeWrites, seen.length, "nothing wrote around the seam");
  t.same(seen, [
    "create cluster",
    "increment system",
    "increment system",
    "create clusterWork",
    "create system",
    "create system",
    "delete system",
    "create system",
    "delete cluster",
    "deleteMany",
    "delete system",
    "deleteMany",
  ]);
});
