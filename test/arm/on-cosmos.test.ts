/**
 * The same ARM surface with the production engine underneath: the service on the Cosmos adapter
 * (real @azure/cosmos client, in-process cosmosdb-server over HTTPS). CRUD, paging, ETags, tombstones
 * and the cluster cascade must behave exactly as on SQLite.
 */
import t from "tap";
import { systemClock } from "../../src/ports/clock.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
let cosmos: CosmosTestServer;
let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  cosmos = await startCosmos();
  const store = await openCosmosStore(cosmos, systemClock);
  await store.migrate();
  server = await startServer({ store, pageSize: 1 });
  http = client(server.url, server.ca, server.token);
});
t.teardown(async () => {
  await server.close();
  await cosmos.close();
});

t.test("readiness reflects the Cosmos store", async (t) => {
  const ready = await http("/readyz", { token: null });
  t.equal(ready.status, 200, ready.text);
  t.equal(server.store.engine, "cosmos");
});

t.test("CRUD, paging, ETags and the cluster cascade on Cosmos DB", async (t) => {
  t.equal((await http(`${clusterPath("cos-1")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  for (const n of ["x1", "x2", "x3"]) {
    const res = await http(`${configurationPath("cos-1", n)}?${V}`, { method: "PUT", body: configurationBody() });
    t.equal(res.status, 201, res.text);
  }
  const get = await http(`${configurationPath("cos-1", "x1")}?${V}`);
  t.equal(get.status, 200);
  const stale = get.headers.etag as string;
  const update = await http(`${configurationPath("cos-1", "x1")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: "--git-readonly" }), headers: { "if-match": stale } });
  t.equal(update.status, 200, "If-Match with the current etag");
  const lost = await http(`${configurationPath("cos-1", "x1")}?${V}`, { method: "PUT", body: configurationBody(), headers: { "if-match": stale } });
  t.equal(lost.status, 412, "If-Match with a stale etag");

  const seen: string[] = [];
  let next: string | undefined = `${configurationsPath("cos-1")}?${V}`;
  while (next) {
    const page = await http(next);
    t.equal(page.status, 200);
    seen.push(...page.json.value.map((v: { name: string }) => v.name));
    next = page.json.nextLink;
  }
  t.same(seen, ["x1", "x2", "x3"], "three pages of one");

  t.equal((await http(`${configurationPath("cos-1", "x2")}?${V}`, { method: "DELETE" })).status, 200);
  t.equal((await http(`${configurationPath("cos-1", "x2")}?${V}`)).status, 404);
  t.equal((await http(`${clusterPath("cos-1")}?${CV}`, { method: "DELETE" })).status, 200);
  t.equal((await http(`${configurationPath("cos-1", "x1")}?${V}`)).status, 404, "configurations went with their cluster");
  const leftovers = await server.store.inner.list({ kind: "configuration", partition: "00000000-0000-0000-0000-000000000001", includeDeleted: true }, { limit: 10 });
  t.same(leftovers.items, [], "no documents left behind, tombstones included");
});
