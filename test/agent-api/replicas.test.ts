/**
 * Two replicas on one store (two service instances on one SQLite file): a change made through one
 * reaches the other's in-memory desired state and agent-key cache within the watcher's interval,
 * while the other's 304 polls in between touch no store (the watcher's one query per interval aside).
 */
import path from "node:path";
import t from "tap";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { systemClock } from "../../src/ports/clock.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const INTERVAL = 300;

/** polls `probe` until it returns `expected` or 5 s pass; returns the last value */
async function until<T>(probe: () => Promise<T> | T, expected: T): Promise<T> {
  const deadline = Date.now() + 5000;
  let value = await probe();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await probe();
  }
  return value;
}

t.test("bounded-stale across replicas, no store calls per poll in between", async (t) => {
  const dir = tempDir();
  const file = path.join(dir, "store.db");
  const storeA = new SqliteStore(file, systemClock);
  await storeA.migrate();
  const storeB = new SqliteStore(file, systemClock);
  const a = await startServer({ dataDir: dir, store: storeA, agent: { stalenessMs: INTERVAL } });
  const b = await startServer({ dataDir: dir, store: storeB, agent: { stalenessMs: INTERVAL } });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  b.changeWatcher.start();
  const armA = client(a.url, a.ca, a.token);
  const agent = testAgent("ec");
  t.equal((await armA(`${clusterPath("rep")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  t.equal((await armA(`${configurationPath("rep", "c")}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);

  const pollB = async (etag?: string) => client(b.url, b.ca)(`/agent/v1${clusterPath("rep")}/configurations`, { token: await agent.token(clusterPath("rep")), headers: etag ? { "if-none-match": etag } : {} });
  const first = await pollB();
  t.equal(first.status, 200);
  const etag = first.headers.etag as string;
  t.equal(await until(async () => b.changeWatcher.healthy(), true), true, "replica B's watcher is looking (started, on its own timer)");
  // a look now, after the setup writes: they are replayed, and the next poll rebuilds once (a real notification)
  await b.changeWatcher.runOnce();
  t.equal((await pollB(etag)).status, 304);

  // what is measured: while the watcher is healthy, a poll costs no store call. Its timer's looks can lag past
  // the health window (3 intervals, 900 ms) on a loaded machine, and a cache that cannot trust its watcher
  // rightly checks the store: so a look (its one query is not counted) right before each poll keeps it healthy
  const before = b.store.totalCalls() - (b.store.calls.get("changedSince") ?? 0);
  const callsBefore = JSON.stringify([...b.store.calls]);
  for (let i = 0; i < 20; i++) {
    await b.changeWatcher.runOnce();
    t.equal((await pollB(etag)).status, 304);
  }
  t.equal(b.store.totalCalls() - (b.store.calls.get("changedSince") ?? 0), before, `20 polls of replica B made no store call but the watcher's (${callsBefore} -> ${JSON.stringify([...b.store.calls])})`);

  // a change through replica A: replica B's agent sees it within the interval (plus one query)
  t.equal((await armA(`${configurationPath("rep", "c")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: "--git-readonly --git-branch=next" }) })).status, 200);
  const started = Date.now();
  let seen = 0;
  while (Date.now() - started < 5000) {
    const res = await pollB(etag);
    if (res.status === 200) {
      seen = Date.now() - started;
      t.equal(res.json.configurations[0].generation, 2);
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  // the bound is one interval plus one query; the slack is for a loaded CI machine running tests in parallel
  t.ok(seen > 0 && seen <= INTERVAL + 2000, `replica B served the change after ${seen} ms (bound ${INTERVAL} ms + one query)`);

  // a replaced agent key through replica A stops working on replica B within the same bound
  const next = testAgent("ec");
  t.equal((await armA(`${clusterPath("rep")}?${CV}`, { method: "PUT", body: clusterBody(next.publicKeyB64) })).status, 200);
  t.equal(await until(async () => (await pollB()).status, 401), 401, "the old key is refused by the other replica too");
  const pollNext = async () => client(b.url, b.ca)(`/agent/v1${clusterPath("rep")}/configurations`, { token: await next.token(clusterPath("rep")) });
  t.equal((await pollNext()).status, 200, "the new key works there");

  // heartbeats rewrite the cluster record: they must not flush the other replica's caches.
  // First B has seen everything before the heartbeat: the key replacement above may have been noticed by
  // the 401's own store read (a cache entry past its staleness) before any look announced its marker; on a
  // loaded machine the timer's look can then come only now, and its (correct) flush would be counted
  // against the heartbeat. So: a look, and a poll that rebuilds whatever that flushed.
  await b.changeWatcher.runOnce();
  t.equal((await pollNext()).status, 200);
  const beat = await client(a.url, a.ca)(`/agent/v1${clusterPath("rep")}/heartbeat`, { method: "POST", token: await next.token(clusterPath("rep")), body: { agentVersion: "1", kubernetesVersion: "1.30", totalNodeCount: 1 } });
  t.equal(beat.status, 204);
  await new Promise((r) => setTimeout(r, INTERVAL * 3));
  // one look right now, which sees the heartbeat's write: on a loaded machine the timer's looks can lag past
  // the health window, and a cache that cannot trust its watcher checks the store (correct, but not what is measured here)
  await b.changeWatcher.runOnce();
  const steady = b.store.totalCalls() - (b.store.calls.get("changedSince") ?? 0);
  t.equal((await pollNext()).status, 200);
  t.equal(b.store.totalCalls() - (b.store.calls.get("changedSince") ?? 0), steady, "a heartbeat on replica A cost replica B no store call");

  // a cluster deleted through replica A is refused by replica B within the bound
  t.equal((await armA(`${clusterPath("rep")}?${CV}`, { method: "DELETE" })).status, 200);
  t.equal(await until(async () => (await pollNext()).status, 401), 401, "the deleted cluster's agent is refused on the other replica");
});
