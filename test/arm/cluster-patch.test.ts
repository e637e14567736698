/**
 * ConnectedCluster_Update (PATCH) over HTTPS against the real server: a re-tag makes a matching
 * configuration assignment land on the cluster (and a re-tag away takes it back), exactly as a PUT
 * would; the merged result is validated as a PUT; If-Match is honoured; a missing cluster is 404;
 * what the official ConnectedClusterPatch does not allow is refused with an ARM 400, nothing written.
 */
import crypto from "node:crypto";
import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client, type HttpResponse } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

const RG = "rg-patch";
let server: TestServer;
let request: ReturnType<typeof client>;
let seq = 0;

t.before(async () => {
  server = await startServer();
  request = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

const url = (name: string, api = CLUSTER_API): string => withApi(clusterPath(name, SUB, RG), api);

/** a fresh cluster (tags env=dev, distribution k3s, infrastructure generic) */
async function newCluster(prefix: string): Promise<{ name: string; created: HttpResponse }> {
  const name = `${prefix}-${++seq}`;
  const created = await request(url(name), { method: "PUT", body: { ...clusterBody(), tags: { env: "dev" } } });
  if (created.status !== 201) throw new Error(`cluster PUT ${created.status} ${created.text}`);
  return { name, created };
}

const patch = (name: string, body: unknown, headers: Record<string, string> = {}, api = CLUSTER_API) =>
  request(url(name, api), { method: "PATCH", body, headers });

t.test("a PATCH of tags re-evaluates assignments as a PUT does: the configuration lands, and leaves again", async (t) => {
  const { name } = await newCluster("retag");
  const assignment = await request(withApi(assignmentPath("prod-only", RG)), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { env: "prod" } } }) });
  t.equal(assignment.status, 201, assignment.text);
  await settle(server);
  const configuration = () => request(withApi(configurationPath(name, "baseline", SUB, RG), SCC_API));
  t.equal((await configuration()).status, 404, "env=dev: not selected");

  const res = await patch(name, { tags: { env: "prod" } });
  t.equal(res.status, 200, res.text);
  t.same(res.json.tags, { env: "prod" });
  await settle(server);
  const landed = await configuration();
  t.equal(landed.status, 200, "the re-tagged cluster got the assignment's configuration");
  t.match(landed.json.managedBy, /\/configurationAssignments\/prod-only$/);

  t.equal((await patch(name, { tags: { env: "staging" } })).status, 200);
  await settle(server);
  t.equal((await configuration()).status, 404, "re-tagged away: the configuration the assignment created is taken back");
});

t.test("what a PATCH changes and keeps", async (t) => {
  const { name, created } = await newCluster("merge");
  const res = await patch(name, { tags: { team: "a", ring: "2" }, properties: { distribution: "aks" } });
  t.equal(res.status, 200, res.text);
  t.match(res.headers["content-type"], /^application\/json/);
  t.same(res.json.tags, { team: "a", ring: "2" }, "tags replaced as a whole");
  t.equal(res.json.properties.distribution, "aks");
  t.equal(res.json.properties.infrastructure, "generic", "unnamed properties kept");
  t.equal(res.json.properties.agentPublicKeyCertificate, created.json.properties.agentPublicKeyCertificate);
  t.equal(res.json.location, "eastus");
  t.same(res.json.identity, created.json.identity, "identity (and its principal id) kept");
  t.equal(res.json.systemData.createdAt, created.json.systemData.createdAt);
  t.ok(res.json.systemData.lastModifiedAt >= created.json.systemData.lastModifiedAt);
  t.not(res.headers.etag, created.headers.etag, "a new ETag");
  t.equal((await request(url(name))).headers.etag, res.headers.etag, "the ETag GET serves");

  const kept = await patch(name, {}, {}, "2021-10-01");
  t.equal(kept.status, 200, "an empty patch at 2021-10-01 changes nothing");
  t.same(kept.json.tags, { team: "a", ring: "2" });
  const cleared = await patch(name, { tags: {} });
  t.same(cleared.json.tags ?? {}, {}, "empty tags clear them");
});

t.test("a PATCH whose merged result a PUT would refuse gets 400, nothing written", async (t) => {
  const { name, created } = await newCluster("invalid");
  // the official patch schema puts no length limit on distribution; the PUT's schema does (64)
  const res = await patch(name, { properties: { distribution: "d".repeat(65) } });
  t.equal(res.status, 400, res.text);
  t.equal(res.json.error.code, "InvalidRequestContent");
  t.equal(res.json.error.target, "properties.distribution");
  const after = await request(url(name));
  t.equal(after.headers.etag, created.headers.etag, "not written");
  t.equal(after.json.properties.distribution, "k3s");
});

t.test("properties the official ConnectedClusterPatch does not allow: ARM 400 naming them", async (t) => {
  const { name, created } = await newCluster("refused");
  const key = created.json.properties.agentPublicKeyCertificate as string;
  const cases: Array<[string, Record<string, unknown>]> = [
    ["location", { location: "westus" }],
    ["identity", { identity: { type: "None" } }],
    ["id", { id: "/x" }],
    ["systemData", { systemData: {} }],
    ["properties.agentPublicKeyCertificate", { properties: { agentPublicKeyCertificate: key } }],
    ["properties.infrastructure", { properties: { infrastructure: "azure_stack_hci" } }],
    ["properties.provisioningState", { properties: { provisioningState: "Succeeded" } }],
    ["properties.connectivityStatus", { properties: { connectivityStatus: "Connected" } }],
    ["properties.azureHybridBenefit", { properties: { azureHybridBenefit: "True" } }],
    ["surprise", { tags: { env: "prod" }, surprise: 1 }],
  ];
  for (const [target, body] of cases) {
    const res = await patch(name, body);
    t.equal(res.status, 400, `${target}: ${res.text}`);
    t.equal(res.json.error.target, target, `${target}: named`);
    t.match(res.json.error.message, /cannot be set in this request/);
  }
  const long = await patch(name, { ["x".repeat(500)]: true });
  t.equal(long.status, 400);
  t.ok(long.text.length < 600, "a submitted property name is quoted cut short");
  const typed = await patch(name, { tags: { env: 1 } });
  t.equal(typed.status, 400, "tag values are strings");
  t.equal(typed.json.error.target, "tags.env");
  t.equal((await request(url(name))).headers.etag, created.headers.etag, "nothing was written");
  t.same((await request(url(name))).json.tags, { env: "dev" });
});

t.test("If-Match is honoured: 412 on a mismatch, 200 on a match; If-None-Match * is 412", async (t) => {
  const { name, created } = await newCluster("etag");
  const etag = created.headers.etag as string;
  const stale = await patch(name, { tags: { env: "prod" } }, { "if-match": '"not-the-etag"' });
  t.equal(stale.status, 412, stale.text);
  t.equal(stale.json.error.code, "PreconditionFailed");
  t.same((await request(url(name))).json.tags, { env: "dev" }, "nothing written on 412");
  const none = await patch(name, { tags: { env: "prod" } }, { "if-none-match": "*" });
  t.equal(none.status, 412, "the resource exists");
  const ok = await patch(name, { tags: { env: "prod" } }, { "if-match": etag });
  t.equal(ok.status, 200, ok.text);
  const again = await patch(name, { tags: { env: "qa" } }, { "if-match": etag });
  t.equal(again.status, 412, "the old ETag no longer matches");
  t.equal((await patch(name, { tags: { env: "qa" } }, { "if-match": "*" })).status, 200, "* matches any existing resource");
});

t.test("PATCH of a missing cluster is 404; the request pipeline applies to PATCH", async (t) => {
  const missing = await patch("never-registered", { tags: { env: "prod" } });
  t.equal(missing.status, 404, missing.text);
  t.equal(missing.json.error.code, "ResourceNotFound");
  t.equal((await request(url("never-registered"))).status, 404, "a PATCH creates nothing");

  const { name } = await newCluster("pipeline");
  const noBody = await request(url(name), { method: "PATCH", headers: { "content-type": "application/json" } });
  t.equal(noBody.status, 400, noBody.text);
  const wrongType = await request(url(name), { method: "PATCH", rawBody: "tags=x", headers: { "content-type": "text/plain" } });
  t.equal(wrongType.status, 415, wrongType.text);
  const noVersion = await request(clusterPath(name, SUB, RG), { method: "PATCH", body: { tags: {} } });
  t.equal(noVersion.status, 400);
  t.equal(noVersion.json.error.code, "MissingApiVersionParameter");
  const anonymous = await request(url(name), { method: "PATCH", body: { tags: {} }, token: null });
  t.equal(anonymous.status, 401);
});

t.test("a PATCH is a write: a Warned subscription refuses it as it refuses a PUT", async (t) => {
  const sub = crypto.randomUUID();
  const path = withApi(clusterPath("c1", sub, RG), CLUSTER_API);
  t.equal((await request(path, { method: "PUT", body: clusterBody() })).status, 201, "auto-registered on first write");
  const warned = await request(`/subscriptions/${sub}?api-version=2.0`, {
    method: "PUT",
    body: { state: "Warned", registrationDate: new Date().toUTCString(), properties: { tenantId: server.identity.tenantId } },
  });
  t.equal(warned.status, 200, warned.text);
  const res = await request(path, { method: "PATCH", body: { tags: { env: "prod" } } });
  t.equal(res.status, 409, res.text);
  t.equal(res.json.error.code, "ReadOnlyDisabledSubscription");
});
