/**
 * Cosmos DB down and Cosmos DB stalled, through a TCP proxy in front of the test server: the real
 * @azure/cosmos client (built by src/store/cosmos/client.ts with the configured request timeout) under
 * the store guard (deadline + circuit breaker). Every failure is 503 + Retry-After, never 500; once
 * the breaker has opened, requests fail in well under 1 s; the service recovers by itself when the
 * proxy passes again; every acknowledged write is still there; a stall piles up no connections.
 */
import t from "tap";
import { systemClock } from "../../src/ports/clock.js";
import { CircuitBreaker } from "../../src/ports/circuit-breaker.js";
import { cosmosClient } from "../../src/store/cosmos/client.js";
import { CosmosStore } from "../../src/store/cosmos/cosmos-store.js";
import { GuardedStore } from "../../src/store/guarded.js";
import { EMULATOR_KEY, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { startTcpProxy, type ProxyMode, type TcpProxy } from "../helpers/tcp-proxy.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const DEADLINE_MS = 1000;

let cosmos: CosmosTestServer;
let proxy: TcpProxy;
let server: TestServer;
let breaker: CircuitBreaker;
let http: ReturnType<typeof client>;
const acknowledged: string[] = [];

t.before(async () => {
  cosmos = await startCosmos();
  proxy = await startTcpProxy(Number(new URL(cosmos.endpoint).port));
  const cosmosThroughProxy = cosmosClient({ endpoint: `https://127.0.0.1:${proxy.port}`, key: EMULATOR_KEY, rejectUnauthorized: false, requestTimeoutMs: DEADLINE_MS });
  const store = await CosmosStore.open(cosmosThroughProxy, "kcrp", "resources", systemClock);
  await store.migrate();
  breaker = new CircuitBreaker("store", { failureThreshold: 3, openMs: 500, maxOpenMs: 2000 });
  server = await startServer({ store: new GuardedStore(store, { deadlineMs: DEADLINE_MS, breaker }) });
  http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("cos-f")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
});
t.teardown(async () => {
  await server.close();
  await proxy.close();
  await cosmos.close();
});

const put = (name: string) => http(`${configurationPath("cos-f", name)}?${V}`, { method: "PUT", body: configurationBody({ operatorNamespace: name }) });

interface Phase {
  statuses: Record<string, number>;
  worstMs: number;
  /** the worst latency once the breaker had opened (the fault is known) */
  worstKnownMs: number;
  retryAfterMissing: number;
  maxOpenConnections: number;
}

/** drives reads and writes for `ms` against a dependency in `mode` */
async function fault(mode: ProxyMode, ms: number, tag: string): Promise<Phase> {
  proxy.setMode(mode);
  const phase: Phase = { statuses: {}, worstMs: 0, worstKnownMs: 0, retryAfterMissing: 0, maxOpenConnections: 0 };
  const until = Date.now() + ms;
  for (let i = 0; Date.now() < until; i++) {
    const known = breaker.state !== "closed";
    const started = performance.now();
    // a few callers at once, as clients would be
    const answers = await Promise.all([put(`${tag}-${i}`), http(`${configurationPath("cos-f", "base")}?${V}`), http(`${configurationPath("cos-f", "base")}?${V}`)]);
    const took = performance.now() - started;
    phase.worstMs = Math.max(phase.worstMs, took);
    if (known) phase.worstKnownMs = Math.max(phase.worstKnownMs, took);
    for (const a of answers) {
      phase.statuses[a.status] = (phase.statuses[a.status] ?? 0) + 1;
      if (a.status === 503 && !/^\d+$/.test(String(a.headers["retry-after"]))) phase.retryAfterMissing++;
    }
    if (answers[0]?.status === 201) acknowledged.push(`${tag}-${i}`);
    phase.maxOpenConnections = Math.max(phase.maxOpenConnections, proxy.open());
  }
  return phase;
}

/** the time from the fault clearing until a read and a write succeed again */
async function recovery(): Promise<number> {
  proxy.setMode("pass");
  const started = performance.now();
  for (let i = 0; performance.now() - started < 15_000; i++) {
    const read = await http(`${configurationPath("cos-f", "base")}?${V}`);
    if (read.status === 200) {
      const name = `rec-${Date.now()}-${i}`;
      if ((await put(name)).status === 201) {
        acknowledged.push(name);
        return performance.now() - started;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("did not recover within 15 s");
}

t.test("Cosmos DB unreachable: 503 + Retry-After, fast once known, recovers by itself, nothing lost", async (t) => {
  t.equal((await put("base")).status, 201);
  acknowledged.push("base");
  const phase = await fault("drop", 3000, "drop");
  t.notOk(phase.statuses["500"], `never 500: ${JSON.stringify(phase.statuses)}`);
  t.ok(phase.statuses["503"], "503 while down");
  t.equal(phase.retryAfterMissing, 0, "every 503 has Retry-After");
  t.ok(phase.worstMs < DEADLINE_MS * 2 + 500, `no request held past the deadline: worst ${phase.worstMs.toFixed(0)} ms`);
  t.ok(phase.worstKnownMs < 1000, `under 1 s once the fault is known: ${phase.worstKnownMs.toFixed(0)} ms`);
  t.match((await http("/metrics", { token: null })).text, /^dependency_circuit_state\{dependency="store"\} [12]$/m, "the open circuit shows");
  t.equal((await http("/readyz", { token: null })).status, 503, "not ready while the store is down");
  const recoverMs = await recovery();
  t.ok(recoverMs < 5000, `recovered in ${recoverMs.toFixed(0)} ms`);
  t.equal((await http("/readyz", { token: null })).status, 200);
  t.comment(`cosmos drop: ${JSON.stringify(phase.statuses)}, worst ${phase.worstMs.toFixed(0)} ms, worst once known ${phase.worstKnownMs.toFixed(0)} ms, recovery ${recoverMs.toFixed(0)} ms`);
});

t.test("Cosmos DB stalls (accepts, never answers): held no longer than the deadline, no pile-up of connections", async (t) => {
  const phase = await fault("stall", 3000, "stall");
  t.notOk(phase.statuses["500"], `never 500: ${JSON.stringify(phase.statuses)}`);
  t.ok(phase.statuses["503"], "503 while stalled");
  t.equal(phase.retryAfterMissing, 0);
  t.ok(phase.worstMs < DEADLINE_MS * 2 + 500, `no request held past the deadline: worst ${phase.worstMs.toFixed(0)} ms`);
  t.ok(phase.worstKnownMs < 1000, `under 1 s once the fault is known: ${phase.worstKnownMs.toFixed(0)} ms`);
  t.ok(phase.maxOpenConnections < 40, `connections held open at most ${phase.maxOpenConnections}`);
  const recoverMs = await recovery();
  t.ok(recoverMs < 5000, `recovered in ${recoverMs.toFixed(0)} ms`);
  t.comment(`cosmos stall: ${JSON.stringify(phase.statuses)}, worst ${phase.worstMs.toFixed(0)} ms, worst once known ${phase.worstKnownMs.toFixed(0)} ms, max open connections ${phase.maxOpenConnections}, recovery ${recoverMs.toFixed(0)} ms`);
});

t.test("every acknowledged write is still there", async (t) => {
  for (const name of acknowledged) t.equal((await http(`${configurationPath("cos-f", name)}?${V}`)).status, 200, name);
  t.comment(`${acknowledged.length} acknowledged writes, all present`);
});
