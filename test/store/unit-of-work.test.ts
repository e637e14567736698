/**
 * One request, one commit (docs/design/persistence.md): the writes of a request's attempt are staged
 * in a unit of work and reach the store as ONE Store.commit — SQLite: one transaction, one fsync.
 * Proven on the real service: store calls per PUT/DELETE/report, a failure in the middle of the
 * commit (a real SQLite trigger aborting the transaction) leaving nothing of the request, and the
 * unit's own rules (read-your-writes, folding two writes of one document, nothing on a throw).
 */
import path from "node:path";
import t from "tap";
import { Persistence } from "../../src/persistence/index.js";
import { ManualClock, systemClock } from "../../src/ports/clock.js";
import { StoreConflictError, StorePreconditionFailedError, type NewDocument } from "../../src/store/port.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { inUnitOfWork } from "../../src/persistence/unit-of-work.js";
import { unitWriter } from "../../src/persistence/writer.js";
import { agentPublicKey, clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64 } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { startServer, tempDir } from "../helpers/server.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const WRITES = ["create", "replace", "delete", "commit"] as const;

const writesOf = (calls: Map<string, number>) => Object.fromEntries(WRITES.map((op) => [op, calls.get(op) ?? 0]));
const delta = (before: Record<string, number>, after: Record<string, number>) => Object.fromEntries(WRITES.map((op) => [op, (after[op] ?? 0) - (before[op] ?? 0)]));

t.test("a configuration PUT (with and without secrets), a DELETE and a status report are one commit each", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("uow")}?${CV}`, { method: "PUT", body: clusterBody(agentPublicKey().publicKeyB64) })).status, 201);
  const cases: [string, () => Promise<{ status: number }>][] = [
    ["PUT without secrets (create)", () => http(`${configurationPath("uow", "plain")}?${V}`, { method: "PUT", body: configurationBody() })],
    ["PUT without secrets (replace)", () => http(`${configurationPath("uow", "plain")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: "--git-readonly" }) })],
    ["PUT with secrets (create: record, secrets, their key, marker)", () => http(`${configurationPath("uow", "sealed")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) })],
    ["PUT with secrets (replace: the old secrets' key destroyed too)", () => http(`${configurationPath("uow", "sealed")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64("gitlab.com") }) })],
    ["DELETE (tombstone, secrets, key, marker, outbox)", () => http(`${configurationPath("uow", "sealed")}?${V}`, { method: "DELETE" })],
  ];
  for (const [name, request] of cases) {
    const before = writesOf(server.store.calls);
    const response = await request();
    t.ok(response.status < 300, `${name}: ${response.status}`);
    t.same(delta(before, writesOf(server.store.calls)), { create: 0, replace: 0, delete: 0, commit: 1 }, `${name}: one commit, no other write`);
  }
  const put = await http(`${configurationPath("uow", "plain")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: "--git-readonly --git-branch=main" }) });
  const shown = await http(`${configurationPath("uow", "plain")}?${V}`);
  t.equal(shown.status, 200);
  t.ok(put.headers.etag, "the PUT answers an ETag");
  t.equal(shown.headers.etag, put.headers.etag, "chosen before the commit, it is the one a GET shows");
});

t.test("a failure in the middle of the commit keeps nothing of the request", async (t) => {
  const dataDir = tempDir();
  const sqlite = new SqliteStore(path.join(dataDir, "store.db"), systemClock);
  await sqlite.migrate();
  const server = await startServer({ store: sqlite, dataDir });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("abort")}?${CV}`, { method: "PUT", body: clusterBody(agentPublicKey().publicKeyB64) })).status, 201);
  const count = (kind: string) => Number((sqlite.connection.prepare("SELECT count(*) AS n FROM documents WHERE kind = ?").get(kind) as { n: number }).n);
  const before = { configuration: count("configuration"), configurationSecrets: count("configurationSecrets"), secretKey: count("secretKey"), system: count("system") };
  // the engine aborts the transaction at its last write (the version marker), after the record, the
  // secrets and their key were written in it: a real mid-commit failure
  sqlite.connection.exec(`CREATE TRIGGER abort_marker BEFORE INSERT ON documents WHEN NEW.kind = 'system' AND NEW.key LIKE 'desired:%' BEGIN SELECT RAISE(ABORT, 'injected'); END`);
  const put = await http(`${configurationPath("abort", "cfg")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) });
  t.equal(put.status, 500, "the request failed");
  t.same(
    { configuration: count("configuration"), configurationSecrets: count("configurationSecrets"), secretKey: count("secretKey"), system: count("system") },
    before,
    "no record, no secrets, no key, no marker: the transaction was rolled back whole",
  );
  t.equal((await http(`${configurationPath("abort", "cfg")}?${V}`)).status, 404, "and the service shows nothing of it");
  sqlite.connection.exec("DROP TRIGGER abort_marker");
  const again = await http(`${configurationPath("abort", "cfg")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) });
  t.equal(again.status, 201, "the same PUT succeeds once the engine takes it");
});

t.test("the unit of work: read-your-writes, two writes of a document fold into one, nothing on a throw, nested units join", async (t) => {
  const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
  const store = new SqliteStore(path.join(tempDir(), "store.db"), clock);
  await store.migrate();
  t.teardown(() => store.close());
  const writer = unitWriter(store);
  const doc = (key: string, value: string): NewDocument => ({ kind: "configuration", key, partition: "p", parent: "", schemaVersion: 1, body: { value } });
  const p = new Persistence(store, undefined, undefined, writer);
  const calls: string[] = [];
  const commit = store.commit.bind(store);
  store.commit = async (ops) => {
    calls.push(ops.map((o) => o.op).join(","));
    return commit(ops);
  };

  const created = await inUnitOfWork(store, clock.now, async () => {
    const first = await writer.create(doc("/a", "1"));
    t.equal(await store.get("configuration", "/a", "p"), undefined, "nothing reached the store before the commit");
    const second = await writer.replace(doc("/a", "2"), first.etag);
    await t.rejects(writer.replace(doc("/a", "3"), first.etag), StorePreconditionFailedError, "a stale etag inside the unit loses at once");
    await t.rejects(writer.create(doc("/a", "4")), StoreConflictError, "so does a second create");
    await inUnitOfWork(store, clock.now, async () => writer.create(doc("/b", "nested")));
    return second;
  });
  t.same(calls, ["create,create"], "one commit: the create and its replace folded into one create, the nested unit joined");
  const a = await store.get("configuration", "/a", "p");
  t.same([a?.etag, a?.body], [created.etag, { value: "2" }], "the etag handed out inside the unit is the stored one");

  await t.rejects(
    inUnitOfWork(store, clock.now, async () => {
      await writer.replace(doc("/a", "never"), created.etag);
      await writer.delete("configuration", "/b", "p");
      throw new Error("the request failed");
    }),
    /the request failed/,
  );
  t.same((await store.get("configuration", "/a", "p"))?.body, { value: "2" }, "a unit that throws writes nothing");
  t.ok(await store.get("configuration", "/b", "p"));
  t.equal(calls.length, 1, "no commit was attempted");

  await inUnitOfWork(store, clock.now, async () => {
    const found = await p.configurations.get("00000000-0000-0000-0000-000000000000", "/nothing");
    t.equal(found, undefined);
    await writer.delete("configuration", "/b", "p", (await store.get("configuration", "/b", "p"))?.etag);
    t.equal(await writer.delete("configuration", "/b", "p"), false, "deleted in this unit: a second delete finds nothing");
    await writer.create(doc("/b", "again"));
  });
  t.same(calls[1], "replace", "a delete then a create of one document commit as one conditional replace");
  t.same((await store.get("configuration", "/b", "p"))?.body, { value: "again" });
});
