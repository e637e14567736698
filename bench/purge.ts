/**
 * npm run bench:purge — the 48-hour sweeper on a large backlog: N expired protected-settings
 * documents (each with its own wrapped key) swept on each adapter; records/s, and the API's GET
 * p99 with and without a sweep running (same process, same store, measured in the same run).
 * Options: PURGE_RECORDS (default 100000, SQLite), PURGE_RECORDS_COSMOS (default 2000: the Cosmos
 * test server serves ~350 operations/s, so it measures the test server, not Cosmos DB), BENCH_SECONDS (5),
 * PURGE_ENGINES (default "sqlite,cosmos").
 * The GET load during the sweep stops when the sweep ends (at most BENCH_SECONDS), so its p99 is the
 * sweep's alone; the line also gives the goal's ratio (p99 during the sweep / p99 idle, goal <= 2).
 */
import crypto from "node:crypto";
import path from "node:path";
import autocannon from "autocannon";
import Database from "better-sqlite3";
import { ManualClock } from "../src/ports/clock.js";
import type { NewDocument, Store } from "../src/store/port.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { openCosmosStore, startCosmos } from "../test/helpers/cosmos.js";
import { client } from "../test/helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../test/helpers/fixtures.js";
import { startServer, tempDir, type TestServer } from "../test/helpers/server.js";

const N_SQLITE = Number(process.env.PURGE_RECORDS ?? 100_000);
const N_COSMOS = Number(process.env.PURGE_RECORDS_COSMOS ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ENGINES = (process.env.PURGE_ENGINES ?? "sqlite,cosmos").split(",").map((e) => e.trim());
const SUBS = 10;
const CLUSTERS_PER_SUB = 100;

/** an expired secrets document and its key, shaped as the service writes them (the sweep never opens them) */
function backlogDocs(i: number, expiredAt: number): [NewDocument, NewDocument] {
  const partition = `00000000-0000-0000-0000-${String(i % SUBS).padStart(12, "0")}`;
  const cluster = `/subscriptions/${partition}/resourcegroups/rg/providers/microsoft.kubernetes/connectedclusters/c${Math.floor(i / SUBS) % CLUSTERS_PER_SUB}`;
  const dek = `s-${crypto.randomUUID()}`;
  const key: NewDocument = { kind: "secretKey", key: dek, partition, parent: cluster, schemaVersion: 1, expiresAt: expiredAt, body: { kek: { name: "k", version: "1" }, wrapped: crypto.randomBytes(60).toString("base64"), createdAt: 0 } };
  const secrets: NewDocument = { kind: "configurationSecrets", key: `${cluster}/providers/microsoft.kubernetesconfiguration/sourcecontrolconfigurations/n${i}`, partition, parent: cluster, schemaVersion: 1, expiresAt: expiredAt, body: { enc: "v1", kek: "k/1", dek, ct: crypto.randomBytes(600).toString("base64url") } };
  return [key, secrets];
}

async function fillSqlite(file: string, n: number, expiredAt: number): Promise<void> {
  // the backlog is written in one transaction: the bench measures the sweep, not the setup
  const db = new Database(file);
  const insert = db.prepare(`INSERT INTO documents (kind, key, partition, parent, deleted, expires_at, schema_version, body, etag, updated_at) VALUES (@kind, @key, @partition, @parent, 0, @expiresAt, 1, @body, @etag, 0)`);
  db.transaction(() => {
    // written over time, as PUTs write them: the i-th expired (n - i) ms before `expiredAt`
  for (let i = 0; i < n; i++) for (const d of backlogDocs(i, expiredAt - (n - i))) insert.run({ ...d, body: JSON.stringify(d.body), etag: crypto.randomUUID() });
  })();
  db.close();
}

interface Load {
  p99: number;
  rps: number;
}

/** GETs on 16 connections for `seconds`, or until `until` settles (whichever comes first) */
function load(url: string, ca: string, token: string, path: string, until?: Promise<unknown>): Promise<Load> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url: url + path, headers: { authorization: `Bearer ${token}` }, connections: 16, duration: SECONDS, tlsOptions: { ca } }, (err, r) => {
      if (err) reject(err);
      else resolve({ p99: r.latency.p99, rps: r.requests.average });
    });
    void until?.finally(() => instance.stop());
  });
}

/** the purge counter as /metrics shows it (records purged so far) */
async function purgedSoFar(server: TestServer): Promise<number> {
  const text = await server.metrics.registry.getSingleMetricAsString("protected_settings_purged_total");
  return [...text.matchAll(/^protected_settings_purged_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

async function run(engine: "sqlite" | "cosmos", n: number): Promise<void> {
  const clock = new ManualClock(Date.now());
  let store: Store;
  let closeCosmos: (() => Promise<void>) | undefined;
  const dir = tempDir("bench-purge-");
  if (engine === "sqlite") {
    const s = new SqliteStore(path.join(dir, "store.db"), clock);
    await s.migrate();
    await fillSqlite(path.join(dir, "store.db"), n, clock.now() - 1000);
    store = s;
  } else {
    const cosmos = await startCosmos();
    closeCosmos = () => cosmos.close();
    const s = await openCosmosStore(cosmos, clock);
    await s.migrate();
    const docs = Array.from({ length: n }, (_, i) => backlogDocs(i, clock.now() - 1000)).flat();
    for (let i = 0; i < docs.length; i += 32) await Promise.all(docs.slice(i, i + 32).map((d) => s.create(d)));
    store = s;
  }
  const server = await startServer({ dataDir: dir, store, clock, retention: { sweepBatchSize: 500 } });
  const http = client(server.url, server.ca, server.token);
  await http(`${clusterPath("api")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() });
  await http(`${configurationPath("api", "cfg")}?api-version=2024-11-01`, { method: "PUT", body: configurationBody() });
  const path_ = `${configurationPath("api", "cfg")}?api-version=2024-11-01`;

  const quiet = await load(server.url, server.ca, server.token, path_);
  const started = performance.now();
  const sweeping = server.sweeper.runOnce();
  const busy = await load(server.url, server.ca, server.token, path_, sweeping);
  const loadEnded = performance.now();
  const purgedUnderLoad = await purgedSoFar(server);
  const report = await sweeping;
  const seconds = (performance.now() - started) / 1000;
  const left = await store.scan({ kind: "configurationSecrets", expired: true }, { limit: 1 });
  const keysLeft = await store.scan({ kind: "secretKey", expired: true }, { limit: 1 });
  console.log(`\n${engine}: ${report.purged} expired records (and their keys) swept in ${seconds.toFixed(1)} s = ${(report.purged / seconds).toFixed(0)} records/s; left: ${left.items.length} records, ${keysLeft.items.length} keys`);
  const afterLoad = (performance.now() - loadEnded) / 1000;
  console.log(`  while the GET load ran: ${purgedUnderLoad} records in ${((loadEnded - started) / 1000).toFixed(1)} s = ${(purgedUnderLoad / ((loadEnded - started) / 1000)).toFixed(0)} records/s; after it: ${report.purged - purgedUnderLoad} in ${afterLoad.toFixed(1)} s = ${((report.purged - purgedUnderLoad) / Math.max(afterLoad, 0.001)).toFixed(0)} records/s`);
  console.log(`  API GET while idle:       p99 ${quiet.p99} ms, ${quiet.rps.toFixed(0)} req/s`);
  console.log(`  API GET during the sweep: p99 ${busy.p99} ms, ${busy.rps.toFixed(0)} req/s  (at most the first ${SECONDS} s of the sweep); p99 ratio ${(busy.p99 / Math.max(quiet.p99, 1)).toFixed(2)} (goal <= 2)`);
  await server.close();
  await closeCosmos?.();
}

if (ENGINES.includes("sqlite")) await run("sqlite", N_SQLITE);
if (ENGINES.includes("cosmos")) await run("cosmos", N_COSMOS);
