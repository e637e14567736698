/** The conformance suite on the SQLite adapter (a real file per test), plus durability across reopen. */
import path from "node:path";
import t from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { StorePreconditionFailedError } from "../../src/store/port.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { tempDir } from "../helpers/server.js";
import { conformance } from "./conformance.js";

conformance(t, "sqlite", async (clock) => new SqliteStore(path.join(tempDir("kcrp-sqlite-"), "store.db"), clock));

t.test("sqlite: an acknowledged write is in the file after the store is closed and reopened", async (t) => {
  const file = path.join(tempDir("kcrp-sqlite-"), "store.db");
  const clock = new ManualClock(0);
  const first = new SqliteStore(file, clock);
  await first.migrate();
  await first.create({ kind: "cluster", key: "/a", partition: "p", parent: "", schemaVersion: 1, body: { kept: true } });
  await first.close();
  const second = new SqliteStore(file, clock);
  t.teardown(() => second.close());
  t.ok(await second.migrationsApplied(), "migrations recorded in the file");
  t.same((await second.get("cluster", "/a", "p"))?.body, { kept: true });
});

t.test("sqlite: a new migration is pending until applied", async (t) => {
  const file = path.join(tempDir("kcrp-sqlite-"), "store.db");
  const clock = new ManualClock(0);
  const first = new SqliteStore(file, clock);
  await first.migrate();
  await first.close();
  let ran = 0;
  const extra = {
    id: "9999-test-step",
    description: "test",
    sqlite: () => {
      ran++;
    },
    cosmos: async () => undefined,
  };
  const { MIGRATIONS } = await import("../../migrations/index.js");
  const store = new SqliteStore(file, clock, [...MIGRATIONS, extra]);
  t.teardown(() => store.close());
  t.equal(await store.migrationsApplied(), false, "readiness would report pending migrations");
  t.same((await store.migrate()).applied, ["9999-test-step"]);
  await store.migrate();
  t.equal(ran, 1, "a recorded migration never runs twice");
  t.equal(await store.migrationsApplied(), true);
});

t.test("sqlite: group commit — units arriving together share one transaction; a lost race fails alone", async (t) => {
  const clock = new ManualClock(0);
  const store = new SqliteStore(path.join(tempDir("kcrp-sqlite-"), "store.db"), clock);
  await store.migrate();
  t.teardown(() => store.close());
  const doc = (key: string, value: number) => ({ kind: "configuration" as const, key, partition: "p", parent: "", schemaVersion: 1, body: { value } });
  const base = await store.create(doc("/shared", 0));
  const before = { ...store.groupCommits };
  const results = await Promise.allSettled([
    ...Array.from({ length: 20 }, (_, i) => store.commit([{ op: "create", doc: doc(`/g${i}`, i), etag: `e${i}` }])),
    // two units replace one document under the same etag: the first in the group wins, the second loses alone
    store.commit([{ op: "replace", doc: doc("/shared", 1), ifMatch: base.etag, etag: "won" }, { op: "create", doc: doc("/winner-extra", 1), etag: "w" }]),
    store.commit([{ op: "replace", doc: doc("/shared", 2), ifMatch: base.etag, etag: "lost" }, { op: "create", doc: doc("/loser-extra", 2), etag: "l" }]),
  ]);
  t.equal(store.groupCommits.units - before.units, 22, "22 units committed or refused");
  t.equal(store.groupCommits.transactions - before.transactions, 1, "in one transaction (one fsync)");
  t.equal(results.filter((r) => r.status === "fulfilled").length, 21);
  t.ok((results[21] as PromiseRejectedResult).reason instanceof StorePreconditionFailedError, "the second replace lost the race");
  t.equal((await store.get("configuration", "/shared", "p"))?.etag, "won");
  t.ok(await store.get("configuration", "/winner-extra", "p"), "the winner's unit is whole");
  t.equal(await store.get("configuration", "/loser-extra", "p"), undefined, "the loser's unit left nothing (its savepoint was rolled back)");
  for (let i = 0; i < 20; i++) t.equal((await store.get("configuration", `/g${i}`, "p"))?.etag, `e${i}`);
});
