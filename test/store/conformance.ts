/**
 * The store conformance suite: the contract of src/store/port.ts, run against every adapter.
 * An adapter passes only if each behaviour here holds; the SQLite and Cosmos tests call it.
 */
import type { Test } from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { StoreConflictError, StorePreconditionFailedError, type NewDocument, type Store } from "../../src/store/port.js";
import type { MigrationReport } from "../../src/store/migration-runner.js";

export type ConformanceStore = Store & { migrate(): Promise<MigrationReport> };
export type StoreFactory = (clock: ManualClock) => Promise<ConformanceStore>;

const P = "00000000-0000-0000-0000-00000000000a";
const P2 = "00000000-0000-0000-0000-00000000000b";

function doc(key: string, over: Partial<NewDocument> = {}): NewDocument {
  return { kind: "configuration", key, partition: P, parent: "/c1", schemaVersion: 1, body: { value: key }, ...over };
}

export interface ConformanceOptions {
  /**
   * whether a failed commit leaves nothing behind. SQLite rolls its transaction back and Cosmos DB its
   * transactional batch; @vercel/cosmosdb-server does not roll a failed batch back (docs/design/persistence.md)
   */
  rollsBackFailedCommit: boolean;
}

export function conformance(t: Test, name: string, factory: StoreFactory, options: ConformanceOptions = { rollsBackFailedCommit: true }): void {
  const open = async (t: Test) => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
    const store = await factory(clock);
    t.teardown(() => store.close());
    return { store, clock };
  };

  t.test(`${name}: migrations are applied once, recorded, and idempotent`, async (t) => {
    const { store } = await open(t);
    const first = await store.migrate();
    t.ok(await store.migrationsApplied());
    const second = await store.migrate();
    t.same(second.applied, [], "nothing left to apply");
    t.ok(second.alreadyApplied.length >= first.applied.length + first.alreadyApplied.length - 0);
    await store.ping();
  });

  t.test(`${name}: create, get, replace with etag, delete`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    const created = await store.create(doc("/k1"));
    t.ok(created.etag, "etag assigned");
    t.same(created.body, { value: "/k1" });
    await t.rejects(store.create(doc("/k1")), StoreConflictError, "create of an existing key conflicts");
    const got = await store.get("configuration", "/k1", P);
    t.equal(got?.etag, created.etag);
    t.same(got?.body, { value: "/k1" });
    t.equal(await store.get("cluster", "/k1", P), undefined, "kind is part of the identity");
    const replaced = await store.replace(doc("/k1", { body: { value: "v2" } }), created.etag);
    t.not(replaced.etag, created.etag, "etag changes on write");
    await t.rejects(store.replace(doc("/k1", { body: { value: "v3" } }), created.etag), StorePreconditionFailedError, "stale etag loses");
    t.same((await store.get("configuration", "/k1", P))?.body, { value: "v2" }, "the losing write left nothing");
    await t.rejects(store.replace(doc("/missing"), created.etag), StorePreconditionFailedError, "replace of a missing doc");
    await t.rejects(store.delete("configuration", "/k1", P, created.etag), StorePreconditionFailedError, "delete with a stale etag");
    t.equal(await store.delete("configuration", "/k1", P, replaced.etag), true);
    t.equal(await store.delete("configuration", "/k1", P), false, "second delete finds nothing");
    t.equal(await store.get("configuration", "/k1", P), undefined);
  });

  t.test(`${name}: commit applies every write at once, with the etags the writer chose`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    const base = await store.create(doc("/c-replace"));
    await store.create(doc("/c-delete"));
    await store.commit([
      { op: "create", doc: doc("/c-new"), etag: "etag-new" },
      { op: "replace", doc: doc("/c-replace", { body: { value: "v2" } }), ifMatch: base.etag, etag: "etag-replaced" },
      { op: "upsert", doc: doc("/c-upsert"), etag: "etag-upserted" },
      { op: "delete", kind: "configuration", key: "/c-delete", partition: P },
      { op: "delete", kind: "configuration", key: "/c-never-there", partition: P },
      { op: "increment", doc: { kind: "system", key: "desired:/c1", partition: P, parent: "/c1", schemaVersion: 1, body: {} }, field: "version", etag: "etag-counted" },
    ]);
    t.equal((await store.get("configuration", "/c-new", P))?.etag, "etag-new", "a created document has the etag chosen before the commit");
    const replaced = await store.get("configuration", "/c-replace", P);
    t.same([replaced?.etag, replaced?.body], ["etag-replaced", { value: "v2" }]);
    t.equal((await store.get("configuration", "/c-upsert", P))?.etag, "etag-upserted");
    t.equal(await store.get("configuration", "/c-delete", P), undefined, "deleted in the same commit");
    t.same((await store.get("system", "desired:/c1", P))?.body, { version: 1 }, "a counter starts at 1");
    await store.commit([{ op: "increment", doc: { kind: "system", key: "desired:/c1", partition: P, parent: "/c1", schemaVersion: 1, body: {} }, field: "version", etag: "etag-counted-2" }]);
    const counted = await store.get("system", "desired:/c1", P);
    t.same([counted?.body, counted?.etag], [{ version: 2 }, "etag-counted-2"], "then goes up by one, with a new etag");
    // the etag chosen by the writer is the one conditions check
    await store.replace(doc("/c-new", { body: { value: "v3" } }), "etag-new");
    await t.rejects(store.replace(doc("/c-new"), "etag-new"), StorePreconditionFailedError, "and it changed with that write");
  });

  t.test(`${name}: a commit with a failed condition fails with that write's typed error${options.rollsBackFailedCommit ? ", and keeps nothing" : ""}`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    const base = await store.create(doc("/f-base"));
    await store.replace(doc("/f-base", { body: { value: "moved" } }), base.etag);
    const staleReplace = store.commit([
      { op: "create", doc: doc("/f-new"), etag: "f-new" },
      { op: "replace", doc: doc("/f-base", { body: { value: "lost" } }), ifMatch: base.etag, etag: "f-lost" },
    ]);
    await t.rejects(staleReplace, StorePreconditionFailedError, "a stale etag fails the commit");
    const duplicate = store.commit([
      { op: "upsert", doc: doc("/f-upsert"), etag: "f-upsert" },
      { op: "create", doc: doc("/f-base"), etag: "f-dup" },
    ]);
    await t.rejects(duplicate, StoreConflictError, "a create of an existing key fails the commit");
    t.same((await store.get("configuration", "/f-base", P))?.body, { value: "moved" }, "the document under the failed condition is untouched");
    if (options.rollsBackFailedCommit) {
      t.equal(await store.get("configuration", "/f-new", P), undefined, "the commit's other writes were not kept");
      t.equal(await store.get("configuration", "/f-upsert", P), undefined, "nor in the second");
    }
  });

  t.test(`${name}: concurrent writers under one etag: exactly one wins`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    const base = await store.create(doc("/race"));
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.replace(doc("/race", { body: { writer: i } }), base.etag)));
    const won = results.filter((r) => r.status === "fulfilled");
    t.equal(won.length, 1, "one write wins");
    t.ok(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason instanceof StorePreconditionFailedError), "the others fail with a precondition error, none silently");
    const racers = await Promise.allSettled(Array.from({ length: 6 }, () => store.create(doc("/new-race"))));
    t.equal(racers.filter((r) => r.status === "fulfilled").length, 1, "one create wins");
  });

  t.test(`${name}: list filters by partition, parent and tombstones; pages in key order`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    for (const k of ["/c1/e", "/c1/a", "/c1/d", "/c1/b", "/c1/c"]) await store.create(doc(k));
    await store.create(doc("/c1/z", { deleted: true }));
    await store.create(doc("/c2/a", { parent: "/c2" }));
    await store.create(doc("/other", { partition: P2 }));
    await store.create(doc("/c1/cluster", { kind: "cluster" }));
    const keys: string[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const page = await store.list({ kind: "configuration", partition: P, parent: "/c1" }, { limit: 2, continuation });
      t.ok(page.items.length <= 2, "page size respected");
      keys.push(...page.items.map((d) => d.key));
      continuation = page.continuation;
      pages++;
    } while (continuation !== undefined);
    t.same(keys, ["/c1/a", "/c1/b", "/c1/c", "/c1/d", "/c1/e"], "every live item once, in key order");
    t.equal(pages, 3);
    const withDeleted = await store.list({ kind: "configuration", partition: P, parent: "/c1", includeDeleted: true }, { limit: 10 });
    t.ok(withDeleted.items.some((d) => d.key === "/c1/z" && d.deleted === true), "tombstones when asked");
    const whole = await store.list({ kind: "configuration", partition: P }, { limit: 10 });
    t.same(whole.items.map((d) => d.key), ["/c1/a", "/c1/b", "/c1/c", "/c1/d", "/c1/e", "/c2/a"], "no parent: whole partition");
    const exact = await store.list({ kind: "configuration", partition: P, parent: "/c1" }, { limit: 5 });
    t.equal(exact.continuation, undefined, "no continuation when the page holds the rest exactly");
  });

  t.test(`${name}: scan walks one kind across partitions in key order`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    await store.create(doc("/b", { kind: "secretKey" }));
    await store.create(doc("/a", { kind: "secretKey", partition: P2 }));
    await store.create(doc("/c", { kind: "secretKey", partition: P2 }));
    await store.create(doc("/x", { kind: "dataKey" }));
    const first = await store.scan({ kind: "secretKey" }, { limit: 2 });
    t.same(first.items.map((d) => d.key), ["/a", "/b"]);
    const rest = await store.scan({ kind: "secretKey" }, { limit: 2, continuation: first.continuation });
    t.same(rest.items.map((d) => d.key), ["/c"]);
    t.equal(rest.continuation, undefined);
  });

  t.test(`${name}: getMany, deleteMany cascades within one partition`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    for (const k of ["/c1/a", "/c1/b"]) await store.create(doc(k));
    await store.create(doc("/c1/a", { kind: "configurationSecrets", body: { s: 1 } }));
    await store.create(doc("/c9/a", { parent: "/c9" }));
    await store.create(doc("/p2/a", { partition: P2, parent: "/c1" }));
    const many = await store.getMany("configuration", ["/c1/a", "/c1/b", "/nope"], P);
    t.same(many.map((d) => d.key).sort(), ["/c1/a", "/c1/b"]);
    const removed = await store.deleteMany({ partition: P, parent: "/c1", kinds: ["configuration", "configurationSecrets"] });
    t.equal(removed, 3);
    t.equal(await store.get("configuration", "/c9/a", P) !== undefined, true, "other parent kept");
    t.ok(await store.get("configuration", "/p2/a", P2), "other partition kept");
    t.equal(await store.deleteMany({ partition: P }), 1, "whole partition");
  });

  t.test(`${name}: expired documents are absent on every read path, and can be re-created`, async (t) => {
    const { store, clock } = await open(t);
    await store.migrate();
    const now = clock.now();
    const d = await store.create(doc("/exp", { kind: "configurationSecrets", expiresAt: now + 60_000 }));
    t.ok(await store.get("configurationSecrets", "/exp", P), "live before expiry");
    clock.advance(61_000);
    t.equal(await store.get("configurationSecrets", "/exp", P), undefined, "get");
    t.same(await store.getMany("configurationSecrets", ["/exp"], P), [], "getMany");
    t.same((await store.list({ kind: "configurationSecrets", partition: P }, { limit: 10 })).items, [], "list");
    await t.rejects(store.replace(doc("/exp", { kind: "configurationSecrets" }), d.etag), StorePreconditionFailedError, "replace");
    const expired = await store.scan({ kind: "configurationSecrets", expired: true }, { limit: 10 });
    t.same(expired.items.map((x) => x.key), ["/exp"], "the purge job finds what read paths no longer see");
    t.same((await store.scan({ kind: "configurationSecrets" }, { limit: 10 })).items, [], "a plain scan does not");
    t.equal(await store.delete("configurationSecrets", "/exp", P, expired.items[0]?.etag), true, "an expired document can be deleted by etag");
    const again = await store.create(doc("/exp", { kind: "configurationSecrets", body: { fresh: true } }));
    t.same(again.body, { fresh: true }, "an expired document does not block a create");
  });

  t.test(`${name}: data survives reopening the store`, async (t) => {
    const { store } = await open(t);
    await store.migrate();
    await store.create(doc("/durable", { body: { nested: { a: [1, 2, 3] }, text: "é✓" } }));
    t.same((await store.get("configuration", "/durable", P))?.body, { nested: { a: [1, 2, 3] }, text: "é✓" }, "bodies round-trip exactly");
  });
}
