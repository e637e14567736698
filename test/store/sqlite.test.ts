/** The conformance suite on the SQLite adapter (a real file per test), plus durability across reopen. */
import path from "node:path";
import t from "tap";
import { ManualClock } from "../../src/ports/clock.js";
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
