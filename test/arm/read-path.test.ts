/**
 * The ARM GET of a configuration with warm caches costs one store read (the configuration): the
 * subscription's registration and the cluster's existence come from memory, kept exact within the
 * process by the change bus and bounded-stale across replicas by the change watcher's markers.
 * Counted by the per-request store-call metric (store_calls_per_request).
 */
import t, { type Test } from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, SUB } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const CONFIG_ROUTE =
  "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:clusterRp/:clusterResourceName/:clusterName/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/:sourceControlConfigurationName";

/** sum and count of store_calls_per_request for the configuration GET route */
async function perRequest(server: TestServer): Promise<{ sum: number; count: number }> {
  const { values } = await server.metrics.storeCallsPerRequest.get();
  const mine = values.filter((v) => v.labels.route === CONFIG_ROUTE && v.labels.method === "GET");
  return {
    sum: mine.find((v) => v.metricName === "store_calls_per_request_sum")?.value ?? 0,
    count: mine.find((v) => v.metricName === "store_calls_per_request_count")?.value ?? 0,
  };
}

/** the store calls one GET made, by the metric, checked against the instrumented store's own count */
async function callsOf(t: Test, server: TestServer, get: () => Promise<{ status: number }>): Promise<{ status: number; calls: number }> {
  const before = await perRequest(server);
  const storeBefore = server.store.totalCalls();
  const res = await get();
  // observed once the response has gone out (fastify's onResponse), which can be just after the client read it
  let after = await perRequest(server);
  for (let i = 0; i < 40 && after.count === before.count; i++) {
    await new Promise((r) => setTimeout(r, 25));
    after = await perRequest(server);
  }
  t.equal(after.count - before.count, 1, "one GET observed");
  t.equal(after.sum - before.sum, server.store.totalCalls() - storeBefore, "the metric counts every store call the GET made");
  return { status: res.status, calls: after.sum - before.sum };
}

async function setUp(t: Test, options: Parameters<typeof startServer>[0] = {}) {
  // caches trusted for a minute: only the bus (or the watcher) can make them read again within a test
  const server = await startServer({ subscriptionCacheMs: 60_000, agent: { stalenessMs: 60_000 }, ...options });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  return { server, http };
}

t.test("a warm GET of a configuration makes exactly one store call; a cold one makes more", async (t) => {
  const { server, http } = await setUp(t);
  t.equal((await http(`${clusterPath("c1")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const url = `${configurationPath("c1", "cfg")}?${V}`;
  t.equal((await http(url, { method: "PUT", body: configurationBody() })).status, 201);
  // a fresh process: the registration, the cluster and the configuration are each read once
  const cold = await callsOf(t, server, () => http(`${configurationPath("c1", "other")}?${V}`));
  t.equal(cold.status, 404);
  t.ok(cold.calls >= 1);
  const first = await callsOf(t, server, () => http(url));
  t.equal(first.status, 200);
  for (let i = 0; i < 3; i++) {
    const warm = await callsOf(t, server, () => http(url));
    t.equal(warm.status, 200);
    t.equal(warm.calls, 1, "warm: the configuration read only");
  }
  // with known_hosts the secrets are read too (and only then)
  t.equal((await http(url, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) })).status, 200);
  const withSecrets = await callsOf(t, server, () => http(url));
  t.equal(withSecrets.status, 200);
  t.equal(withSecrets.calls, 2, "the configuration and its secrets");
  const scraped = await http("/metrics");
  t.match(scraped.text, /store_calls_per_request_count\{route="[^"]*sourceControlConfigurations\/:sourceControlConfigurationName",method="GET"\}/);
});

t.test("a cold cluster costs a read; after that the cache answers (proved by the count with a fresh cluster)", async (t) => {
  const { server, http } = await setUp(t);
  t.equal((await http(`${clusterPath("c2")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const url = `${configurationPath("c2", "cfg")}?${V}`;
  t.equal((await http(url, { method: "PUT", body: configurationBody() })).status, 201);
  const cold = await callsOf(t, server, () => http(url));
  t.equal(cold.calls, 2, "the cluster is read once (the registration was read by the PUT)");
  t.equal((await callsOf(t, server, () => http(url))).calls, 1);
});

t.test("deleting a cluster is seen at once by its configurations' GET on the same process", async (t) => {
  const { server, http } = await setUp(t);
  // a healthy watcher: cached entries are trusted until the bus says otherwise
  server.services.clusters.watcher = { healthy: () => true };
  t.equal((await http(`${clusterPath("gone")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const url = `${configurationPath("gone", "cfg")}?${V}`;
  t.equal((await http(url, { method: "PUT", body: configurationBody() })).status, 201);
  t.equal((await http(url)).status, 200);
  t.equal((await callsOf(t, server, () => http(url))).calls, 1, "warm");
  t.equal((await http(`${clusterPath("gone")}?${CV}`, { method: "DELETE" })).status, 200);
  const after = await http(url);
  t.equal(after.status, 404);
  t.match(after.json.error.message, /connectedClusters\/gone'/, "the parent is what is missing: the cluster was not served from memory");
  // a new cluster of the same name is a new parent: its (new) configuration is served
  t.equal((await http(`${clusterPath("gone")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  t.equal((await http(url, { method: "PUT", body: configurationBody() })).status, 201);
  t.equal((await http(url)).status, 200);
});

t.test("a subscription's state change is seen at once (the registration is not served stale)", async (t) => {
  const { server, http } = await setUp(t);
  server.services.clusters.watcher = { healthy: () => true };
  t.equal((await http(`${clusterPath("c3")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const url = `${configurationPath("c3", "cfg")}?${V}`;
  t.equal((await http(url, { method: "PUT", body: configurationBody() })).status, 201);
  t.equal((await callsOf(t, server, () => http(url))).calls, 2);
  t.equal((await callsOf(t, server, () => http(url))).calls, 1);
  const notify = (state: string) => http(`/subscriptions/${SUB}?api-version=2.0`, { method: "PUT", body: { state, properties: { tenantId: server.identity.tenantId } } });
  t.equal((await notify("Warned")).status, 200);
  const put = await http(url, { method: "PUT", body: configurationBody() });
  t.equal(put.status, 409, "Warned: read-only at once");
  t.equal((await http(url)).status, 200, "Warned: GET still served");
  t.equal((await notify("Deleted")).status, 200);
  const after = await http(url);
  t.equal(after.status, 404, "Deleted: nothing is served from memory");
  t.match(after.json.error.message, /connectedClusters\/c3'/);
});

t.test("another replica's cluster deletion reaches this replica's cache through the change watcher", async (t) => {
  const { server: a, http } = await setUp(t);
  const b = await startServer({ dataDir: a.dataDir, subscriptionCacheMs: 60_000 });
  t.teardown(() => b.close());
  const httpB = client(b.url, b.ca, b.token);
  a.services.clusters.watcher = a.changeWatcher;
  await a.changeWatcher.runOnce(); // healthy: entries are trusted until a marker says otherwise
  t.equal((await http(`${clusterPath("c4")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const url = `${configurationPath("c4", "cfg")}?${V}`;
  t.equal((await http(url, { method: "PUT", body: configurationBody() })).status, 201);
  t.equal((await http(url)).status, 200);
  t.equal((await callsOf(t, a, () => http(url))).calls, 1, "warm on A");
  t.equal((await httpB(`${clusterPath("c4")}?${CV}`, { method: "DELETE" })).status, 200, "deleted through B");
  await a.changeWatcher.runOnce();
  const after = await http(url);
  t.equal(after.status, 404);
  t.match(after.json.error.message, /connectedClusters\/c4'/, "A read the cluster again after the watcher replayed B's marker");
});

/** the request's log lines, once its completion line was written (it is written after the response is sent) */
async function linesOf(server: TestServer, requestId: string | string[] | undefined): Promise<Record<string, unknown>[]> {
  for (let i = 0; ; i++) {
    const lines = server.logs.flatMap((chunk) => chunk.split("\n")).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.filter((l) => l.requestId === requestId);
    if (mine.some((l) => l.msg === "request completed") || i === 100) return mine;
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test("every log line of a request carries its request, correlation and client request ids (the completion line and a refusal)", async (t) => {
  const { server, http } = await setUp(t);
  const headers = { "x-ms-correlation-request-id": "corr-123", "x-ms-client-request-id": "client-456" };
  const res = await http(`${configurationPath("nowhere", "cfg")}?${V}`, { headers });
  t.equal(res.status, 404);
  const requestId = res.headers["x-ms-request-id"];
  const mine = await linesOf(server, requestId);
  t.same(mine.map((l) => l.msg), ["request refused", "request completed"]);
  for (const line of mine) t.match(line, { requestId, correlationId: "corr-123", clientRequestId: "client-456", level: 30 });
  t.match(mine[1], { method: "GET", statusCode: 404, operationId: "SourceControlConfigurations_Get" });
  const plain = await http(`${configurationPath("nowhere", "cfg")}?${V}`);
  const line = await linesOf(server, plain.headers["x-ms-request-id"]);
  t.equal(line.at(-1)?.correlationId, plain.headers["x-ms-request-id"], "without one, the correlation id is the request id");
});
