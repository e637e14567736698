/**
 * Disk full on the embedded store, produced for real: `PRAGMA max_page_count` caps the SQLite file at
 * its current size, so better-sqlite3 fails writes with SQLITE_FULL exactly as a full disk does.
 * The adapter maps it to StoreWriteUnavailableError; the service answers writes 503 + Retry-After
 * (ARM code StoreWriteUnavailable), keeps serving reads, stays ready with `writes: unavailable`, shows
 * store_writes_available 0, logs one line per state change, and takes writes again without restart.
 */
import path from "node:path";
import t from "tap";
import { systemClock } from "../../src/ports/clock.js";
import { CircuitBreaker } from "../../src/ports/circuit-breaker.js";
import { GuardedStore } from "../../src/store/guarded.js";
import { StoreUnavailableError, StoreWriteUnavailableError } from "../../src/store/port.js";
import { SqliteStore, translateSqliteError } from "../../src/store/sqlite/sqlite-store.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath } from "../helpers/fixtures.js";
import { testAgent } from "../helpers/agent-token.js";
import { client } from "../helpers/http.js";
import { startServer, tempDir } from "../helpers/server.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

/** caps the file at the pages it has now: the next page SQLite needs makes it "full" */
function fillDisk(store: SqliteStore): void {
  const pages = Number(store.connection.pragma("page_count", { simple: true }));
  store.connection.pragma(`max_page_count = ${pages}`);
}
const freeDisk = (store: SqliteStore) => store.connection.pragma("max_page_count = 1073741823");

const doc = (i: number, size = 2000) => ({
  kind: "system" as const,
  key: `filler-${i}`,
  partition: "p",
  parent: "",
  schemaVersion: 1,
  body: { blob: "x".repeat(size) },
});

t.test("adapter: a real SQLITE_FULL becomes StoreWriteUnavailableError; reads go on; space returning heals it", async (t) => {
  const store = new SqliteStore(path.join(tempDir(), "store.db"), systemClock);
  await store.migrate();
  t.teardown(() => store.close());
  await store.create(doc(0));
  fillDisk(store);
  let failure: unknown;
  let written = 1;
  for (let i = 1; i < 200 && !failure; i++) {
    try {
      await store.create(doc(i));
      written++;
    } catch (err) {
      failure = err;
    }
  }
  t.ok(failure instanceof StoreWriteUnavailableError, `typed error, got ${String(failure)}`);
  t.equal((failure as StoreWriteUnavailableError).reason, "full");
  t.equal(((failure as StoreWriteUnavailableError).cause as { code?: string }).code, "SQLITE_FULL", "from the engine itself");
  // nothing half-written: every acknowledged document is whole, the refused one is absent
  for (let i = 0; i < written; i++) t.equal(((await store.get("system", `filler-${i}`, "p"))?.body.blob as string).length, 2000);
  t.equal(await store.get("system", `filler-${written}`, "p"), undefined, "the refused write left nothing");
  const doc0 = await store.get("system", "filler-0", "p");
  await t.rejects(store.replace({ ...doc(0, 50_000) }, doc0?.etag ?? ""), StoreWriteUnavailableError, "a growing replace is refused too");
  t.equal(((await store.get("system", "filler-0", "p"))?.body.blob as string).length, 2000, "and left the old version whole");
  freeDisk(store);
  await store.create(doc(written));
  t.ok(await store.get("system", `filler-${written}`, "p"), "writes succeed again without reopening");
});

t.test("adapter: the mapping of SQLite's codes", async (t) => {
  const sqliteError = (code: string) => Object.assign(new Error(code), { code });
  const cases: [string, string | undefined][] = [
    ["SQLITE_FULL", "full"],
    ["SQLITE_READONLY", "readonly"],
    ["SQLITE_READONLY_DBMOVED", "readonly"],
    ["SQLITE_IOERR_WRITE", "ioerror"],
    ["SQLITE_IOERR_FSYNC", "ioerror"],
  ];
  for (const [code, reason] of cases) {
    const mapped = translateSqliteError(sqliteError(code));
    t.ok(mapped instanceof StoreWriteUnavailableError, code);
    t.equal((mapped as StoreWriteUnavailableError).reason, reason, code);
  }
  const busy = translateSqliteError(sqliteError("SQLITE_BUSY"));
  t.ok(busy instanceof StoreUnavailableError && !(busy instanceof StoreWriteUnavailableError), "busy is transient, not write-degraded");
  const constraint = sqliteError("SQLITE_CONSTRAINT_CHECK");
  t.equal(translateSqliteError(constraint), constraint, "a bug stays a bug (500)");
});

t.test("service: writes 503 + Retry-After while full, reads and readiness go on, one line per change, healed without restart", async (t) => {
  const dataDir = tempDir();
  const sqlite = new SqliteStore(path.join(dataDir, "store.db"), systemClock);
  await sqlite.migrate();
  const guarded = new GuardedStore(sqlite, { deadlineMs: 2000, breaker: new CircuitBreaker("store", { failureThreshold: 5, openMs: 1000, maxOpenMs: 30_000 }) });
  const server = await startServer({ dataDir, store: guarded });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  t.equal((await http(`${clusterPath("full-1")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const poll = async () => http(`/agent/v1${clusterPath("full-1")}/configurations`, { token: await agent.token(clusterPath("full-1")) });
  const acknowledged: string[] = [];
  const put = (name: string) => http(`${configurationPath("full-1", name)}?${V}`, { method: "PUT", body: configurationBody({ operatorNamespace: name }) });
  for (const name of ["a0", "a1"]) {
    t.equal((await put(name)).status, 201);
    acknowledged.push(name);
  }

  fillDisk(sqlite);
  const statuses = new Map<number, number>();
  let refused: Awaited<ReturnType<typeof put>> | undefined;
  let worstMs = 0;
  for (let i = 0; i < 300; i++) {
    const started = performance.now();
    const res = await put(`b${i}`);
    worstMs = Math.max(worstMs, performance.now() - started);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status === 201) acknowledged.push(`b${i}`);
    else {
      refused = res;
      if ((statuses.get(503) ?? 0) >= 5) break;
    }
  }
  t.ok(refused, "the disk filled up");
  t.equal(refused?.status, 503, refused?.text ?? "");
  t.equal(refused?.json.error.code, "StoreWriteUnavailable");
  t.match(String(refused?.headers["retry-after"]), /^\d+$/);
  t.notOk(statuses.has(500), `never a 500: ${JSON.stringify([...statuses])}`);
  t.ok(worstMs < 1000, `worst write latency while full ${worstMs.toFixed(0)} ms`);

  // reads go on, the replica stays ready and says writes are unavailable
  t.equal((await http(`${configurationPath("full-1", "a0")}?${V}`)).status, 200);
  t.equal((await http(`${configurationsPath("full-1")}?${V}`)).status, 200);
  const polled = await poll();
  t.equal(polled.status, 200, "the cluster agent's poll goes on");
  t.ok(JSON.stringify(polled.json).includes("a0"), "and delivers the configurations acknowledged before the disk filled");
  const ready = await http("/readyz", { token: null });
  t.equal(ready.status, 200);
  t.equal(ready.json.writes, "unavailable");
  t.match((await http("/metrics", { token: null })).text, /^store_writes_available 0$/m);
  const degradedLines = server.logs.filter((l) => l.includes("store cannot accept writes"));
  t.equal(degradedLines.length, 1, "one log line for the state change, not one per request");
  t.equal(server.logs.filter((l) => l.includes('"level":50')).length, 0, "no error-level line per refused request");

  // space returns: the next write succeeds, no restart
  const recoveredAt = performance.now();
  freeDisk(sqlite);
  const after = await put("c0");
  t.equal(after.status, 201, after.text);
  acknowledged.push("c0");
  t.ok(performance.now() - recoveredAt < 1000, "recovered on the first write after space returned");
  t.equal((await http("/readyz", { token: null })).json.writes, "available");
  t.match((await http("/metrics", { token: null })).text, /^store_writes_available 1$/m);
  t.equal(server.logs.filter((l) => l.includes("store accepts writes again")).length, 1);
  for (const name of acknowledged) t.equal((await http(`${configurationPath("full-1", name)}?${V}`)).status, 200, `acknowledged ${name} is still there`);
  t.comment(`disk full: statuses ${JSON.stringify(Object.fromEntries(statuses))}, worst ${worstMs.toFixed(0)} ms, acknowledged ${acknowledged.length} all present`);
});
