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
import { drill, recovery } from "../helpers/fault-drill.js";
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

/** drives reads and writes (3 callers at once) for `ms` against a dependency in `mode` */
async function fault(mode: ProxyMode, ms: number, tag: string) {
  proxy.setMode(mode);
  let maxOpenConnections = 0;
  const result = await drill({
    ms,
    known: () => breaker.state !== "closed",
    round: async (i) => {
      const responses = await Promise.all([put(`${tag}-${i}`), http(`${configurationPath("cos-f", "base")}?${V}`), http(`${configurationPath("cos-f", "base")}?${V}`)]);
      return { responses, acknowledged: responses[0]?.status === 201 ? `${tag}-${i}` : undefined };
    },
    each: () => (maxOpenConnections = Math.max(maxOpenConnections, proxy.open())),
  });
  acknowledged.push(...result.acknowledged);
  return { ...result, maxOpenConnections };
}

/** the time from the fault clearing until a read and a write succeed again */
async function recover(): Promise<number> {
  proxy.setMode("pass");
  const { ms, acknowledged: name } = await recovery(async (i) => {
    if ((await http(`${configurationPath("cos-f", "base")}?${V}`)).status !== 200) return undefined;
    const name = `rec-${Date.now()}-${i}`;
    return (await put(name)).status === 201 ? name : undefined;
  });
  acknowledged.push(name);
  return ms;
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
  const recoverMs = await recover();
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
  const recoverMs = await recover();
  t.ok(recoverMs < 5000, `recovered in ${recoverMs.toFixed(0)} ms`);
  t.comment(`cosmos stall: ${JSON.stringify(phase.statuses)}, worst ${phase.worstMs.toFixed(0)} ms, worst once known ${phase.worstKnownMs.toFixed(0)} ms, max open connections ${phase.maxOpenConnections}, recovery ${recoverMs.toFixed(0)} ms`);
});

t.test("every acknowledged write is still there", async (t) => {
  for (const name of acknowledged) t.equal((await http(`${configurationPath("cos-f", name)}?${V}`)).status, 200, name);
  t.comment(`${acknowledged.length} acknowledged writes, all present`);
});
