/**
 * Operations endpoints: the served OpenAPI documents are the files in openapi/, the browsable page
 * answers, /readyz follows the store and its migrations, and none of them needs a token.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { MIGRATIONS } from "../migrations/index.js";
import { ManualClock } from "../src/ports/clock.js";
import { OPENAPI_DIR } from "../src/openapi/index.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { client } from "./helpers/http.js";
import { startServer, tempDir } from "./helpers/server.js";

t.test("documents and the API page", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca);
  const index = await http("/openapi");
  t.equal(index.status, 200);
  for (const file of fs.readdirSync(OPENAPI_DIR).filter((f) => f.endsWith(".json"))) {
    const served = await http(`/openapi/${file}`);
    t.equal(served.status, 200, file);
    t.same(served.json, JSON.parse(fs.readFileSync(path.join(OPENAPI_DIR, file), "utf8")), `${file} is served as written`);
  }
  t.equal((await http("/openapi/nope.json")).status, 404);
  const page = await http("/docs/");
  t.equal(page.status, 200, "the browsable page");
  t.match(page.headers["content-type"], /text\/html/);
  const merged = await http("/docs/json");
  t.equal(merged.status, 200);
  t.ok(merged.json.paths["/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{clusterRp}/{clusterResourceName}/{clusterName}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/{sourceControlConfigurationName}"], "the merged document holds the ARM routes");
});

t.test("readiness: 503 while a migration is pending, 200 once applied, 503 when draining", async (t) => {
  const file = path.join(tempDir(), "store.db");
  const clock = new ManualClock(Date.now());
  const pendingStep = { id: "9999-pending", description: "not yet applied", sqlite: () => undefined, cosmos: async () => undefined };
  const raw = new SqliteStore(file, clock, [...MIGRATIONS, pendingStep]);
  const server = await startServer({ store: raw });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca);
  const before = await http("/readyz");
  t.equal(before.status, 503);
  t.equal(before.json.status, "migrations pending");
  t.equal((await http("/healthz")).status, 200, "alive all the same");
  await raw.migrate();
  t.equal((await http("/readyz")).status, 200);
  server.readiness.draining = true;
  t.equal((await http("/readyz")).status, 503, "draining for shutdown");
});

t.test("in dev auth mode the API page offers a bearer field the dev token works with", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const merged = (await client(server.url, server.ca)("/docs/json")).json as {
    securityDefinitions: Record<string, { type: string; in?: string; name?: string }>;
    security: Array<Record<string, string[]>>;
  };
  t.match(merged.securityDefinitions.devBearer, { type: "apiKey", in: "header", name: "Authorization" }, "a field for 'Bearer <token>'");
  t.ok(merged.securityDefinitions.azure_auth, "Azure AD stays offered");
  t.ok(merged.security.some((s) => "devBearer" in s) && merged.security.some((s) => "azure_auth" in s), "operations accept either");
  // what the page sends once the field is filled: the header as pasted
  const list = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Kubernetes/connectedClusters?api-version=2024-01-01";
  t.equal((await client(server.url, server.ca)(list)).status, 401, "an ARM operation needs the header");
  const call = await client(server.url, server.ca)(list, { headers: { authorization: `Bearer ${server.token}` } });
  t.equal(call.status, 200, call.text);
});

t.test("with production auth the page offers only Azure AD", async (t) => {
  const server = await startServer({ docsOfferBearer: false });
  t.teardown(() => server.close());
  const merged = (await client(server.url, server.ca)("/docs/json")).json as { securityDefinitions: Record<string, unknown> };
  t.notOk("devBearer" in merged.securityDefinitions);
  t.ok("azure_auth" in merged.securityDefinitions);
});
