import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { b64, clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath, knownHostsB64, SUB } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer({ pageSize: 2 });
  http = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

async function makeCluster(name: string) {
  const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody() });
  if (res.status !== 201) throw new Error(`cluster create: ${res.status} ${res.text}`);
}

t.test("create answers 201 with defaults, update 200, get returns the resource", async (t) => {
  await makeCluster("c-crud");
  const path = `${configurationPath("c-crud", "Cfg-One")}?${V}`;
  const created = await http(path, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/repo" } } });
  t.equal(created.status, 201, created.text);
  t.match(created.headers["content-type"], /application\/json/);
  t.ok(created.headers["x-ms-request-id"]);
  t.ok(created.headers.etag);
  const p = created.json.properties;
  t.equal(created.json.name, "Cfg-One", "caller's casing kept");
  t.equal(created.json.id, `${clusterPath("c-crud")}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/Cfg-One`);
  t.equal(created.json.type, "Microsoft.KubernetesConfiguration/sourceControlConfigurations");
  t.equal(p.operatorNamespace, "default");
  t.equal(p.operatorScope, "cluster");
  t.equal(p.operatorInstanceName, "cfg-one");
  t.equal(p.operatorType, "Flux");
  t.equal(p.provisioningState, "Succeeded");
  t.equal(p.complianceStatus.complianceState, "Pending");
  t.same(p.configurationProtectedSettings, {});
  t.ok(created.json.systemData.createdAt);
  t.equal(created.json.systemData.createdByType, "User");

  const updated = await http(path, { method: "PUT", body: configurationBody() });
  t.equal(updated.status, 200);
  t.equal(updated.json.properties.operatorNamespace, "flux");
  t.equal(updated.json.systemData.createdAt, created.json.systemData.createdAt, "created* kept on update");
  t.not(updated.headers.etag, created.headers.etag, "etag changes on write");

  const got = await http(path);
  t.equal(got.status, 200);
  t.same(got.json, updated.json);
  t.equal(got.headers.etag, updated.headers.etag);
});

t.test("list pages with nextLink carrying api-version and a sealed $skipToken", async (t) => {
  await makeCluster("c-list");
  for (const name of ["a1", "a2", "a3", "a4", "a5"]) {
    const r = await http(`${configurationPath("c-list", name)}?${V}`, { method: "PUT", body: configurationBody() });
    t.equal(r.status, 201);
  }
  const names: string[] = [];
  let next: string | undefined = `${configurationsPath("c-list")}?${V}`;
  let pages = 0;
  while (next) {
    const res = await http(next);
    t.equal(res.status, 200, res.text);
    t.same(Object.keys(res.json).sort(), res.json.nextLink ? ["nextLink", "value"] : ["value"]);
    names.push(...res.json.value.map((v: { name: string }) => v.name));
    next = res.json.nextLink;
    if (next) {
      t.match(next, /api-version=2024-11-01/);
      t.match(next, /\$skipToken=/);
    }
    pages++;
  }
  t.same(names, ["a1", "a2", "a3", "a4", "a5"]);
  t.equal(pages, 3);

  const first = await http(`${configurationsPath("c-list")}?${V}`);
  const token = new URL(first.json.nextLink).searchParams.get("$skipToken") ?? "";
  const tampered = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
  const bad = await http(`${configurationsPath("c-list")}?${V}&$skipToken=${encodeURIComponent(tampered)}`);
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, "InvalidSkipToken");
  await makeCluster("c-other");
  const replay = await http(`${configurationsPath("c-other")}?${V}&$skipToken=${encodeURIComponent(token)}`);
  t.equal(replay.status, 400, "a token of one list is refused on another");
});

t.test("delete answers 200 then 204, and the resource is gone", async (t) => {
  await makeCluster("c-del");
  const path = `${configurationPath("c-del", "gone")}?${V}`;
  t.equal((await http(path, { method: "PUT", body: configurationBody() })).status, 201);
  const del = await http(path, { method: "DELETE" });
  t.equal(del.status, 200);
  t.equal(del.text, "");
  t.equal((await http(path)).status, 404);
  t.equal((await http(path, { method: "DELETE" })).status, 204);
  const list = await http(`${configurationsPath("c-del")}?${V}`);
  t.same(list.json.value, [], "tombstones are not listed");
  const again = await http(path, { method: "PUT", body: configurationBody() });
  t.equal(again.status, 201, "re-creating after delete is a create");
});

t.test("ETag table: If-Match and If-None-Match on PUT and DELETE", async (t) => {
  await makeCluster("c-etag");
  const path = `${configurationPath("c-etag", "e1")}?${V}`;
  const body = configurationBody();
  t.equal((await http(path, { method: "PUT", body, headers: { "if-match": "*" } })).status, 412, "If-Match * on a missing resource");
  t.equal((await http(path, { method: "PUT", body, headers: { "if-match": '"abc"' } })).status, 412);
  const created = await http(path, { method: "PUT", body, headers: { "if-none-match": "*" } });
  t.equal(created.status, 201, "If-None-Match * creates");
  const etag = String(created.headers.etag);
  t.equal((await http(path, { method: "PUT", body, headers: { "if-none-match": "*" } })).status, 412, "If-None-Match * on an existing one");
  t.equal((await http(path, { method: "PUT", body, headers: { "if-match": '"stale"' } })).status, 412);
  const ok = await http(path, { method: "PUT", body, headers: { "if-match": etag } });
  t.equal(ok.status, 200);
  t.equal((await http(path, { method: "PUT", body, headers: { "if-match": "*" } })).status, 200);
  const current = String((await http(path)).headers.etag);
  t.equal((await http(path, { method: "DELETE", headers: { "if-match": '"stale"' } })).status, 412);
  t.equal((await http(path, { method: "DELETE", headers: { "if-match": current } })).status, 200);
  t.equal((await http(path, { method: "DELETE", headers: { "if-match": '"whatever"' } })).status, 412, "missing under If-Match: 412, as PUT");
  t.equal((await http(path, { method: "DELETE" })).status, 204, "missing without a condition: 204");
});

t.test("paths match case-insensitively and keep the caller's casing", async (t) => {
  await makeCluster("MixedCase");
  const lower = `/subscriptions/${SUB}/resourcegroups/RG1/providers/microsoft.kubernetes/connectedclusters/mixedcase/providers/microsoft.kubernetesconfiguration/sourcecontrolconfigurations/Cfg?${V}`;
  const put = await http(lower, { method: "PUT", body: configurationBody() });
  t.equal(put.status, 201, put.text);
  t.equal(put.json.name, "Cfg");
  t.match(put.json.id, /\/resourceGroups\/RG1\//, "fixed segments canonical, names as the caller wrote them");
  const upper = await http(`${configurationPath("MIXEDCASE", "CFG", SUB, "rg1")}?${V}`);
  t.equal(upper.status, 200);
});

t.test("missing or foreign parent", async (t) => {
  const missing = await http(`${configurationPath("no-such-cluster", "x")}?${V}`, { method: "PUT", body: configurationBody() });
  t.equal(missing.status, 404);
  t.equal(missing.json.error.code, "ResourceNotFound");
  t.match(missing.json.error.message, /Microsoft\.Kubernetes\/connectedClusters\/no-such-cluster' under resource group 'rg1' was not found/);
  t.equal((await http(`${configurationsPath("no-such-cluster")}?${V}`)).status, 404);
  const aks = await http(
    `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/x?${V}`,
  );
  t.equal(aks.status, 400);
  t.equal(aks.json.error.code, "InvalidResourceType");
});

t.test("api-version: missing, unknown, malformed, and every served version", async (t) => {
  await makeCluster("c-ver");
  const base = configurationPath("c-ver", "v1");
  const none = await http(base);
  t.equal(none.status, 400);
  t.equal(none.json.error.code, "MissingApiVersionParameter");
  const unknown = await http(`${base}?api-version=2020-01-01`);
  t.equal(unknown.status, 400);
  t.equal(unknown.json.error.code, "NoRegisteredProviderFound");
  t.match(unknown.json.error.message, /2024-11-01/);
  const malformed = await http(`${base}?api-version=latest`);
  t.equal(malformed.json.error.code, "InvalidApiVersionParameter");
  for (const v of ["2021-03-01", "2022-03-01", "2022-07-01", "2022-11-01", "2023-05-01", "2024-11-01"]) {
    const r = await http(`${base}?api-version=${v}`, { method: "PUT", body: configurationBody() });
    t.ok(r.status === 201 || r.status === 200, `${v}: ${r.status}`);
  }
  const clusterUnknown = await http(`${clusterPath("c-ver")}?api-version=2024-11-01`);
  t.equal(clusterUnknown.json.error.code, "NoRegisteredProviderFound", "versions are per resource type");
});

t.test("bad input: 4xx in ARM shape with a target, and nothing written", async (t) => {
  await makeCluster("c-bad");
  const path = `${configurationPath("c-bad", "bad")}?${V}`;
  const cases: Array<[string, Parameters<typeof http>[1], number, string | RegExp]> = [
    ["wrong type", { method: "PUT", body: configurationBody({ enableHelmOperator: "yes" }) }, 400, "properties.enableHelmOperator"],
    ["bad enum", { method: "PUT", body: configurationBody({ operatorScope: "galaxy" }) }, 400, "properties.operatorScope"],
    ["bad url", { method: "PUT", body: configurationBody({ repositoryUrl: "ftp://example.com/r" }) }, 400, "properties.repositoryUrl"],
    ["long namespace", { method: "PUT", body: configurationBody({ operatorNamespace: "a".repeat(24) }) }, 400, "properties.operatorNamespace"],
    ["owned flag", { method: "PUT", body: configurationBody({ operatorParams: "--git-url=https://evil.example/r" }) }, 400, "properties.operatorParams"],
    ["unknown protected key", { method: "PUT", body: configurationBody({ configurationProtectedSettings: { protectedSetting1Key: b64("x") } }) }, 400, /configurationProtectedSettings/],
    ["https creds with ssh url", { method: "PUT", body: configurationBody({ configurationProtectedSettings: { httpsUser: b64("u"), httpsKey: b64("k") } }) }, 400, /configurationProtectedSettings/],
    ["read-only changed", { method: "PUT", body: configurationBody({ provisioningState: "Failed" }) }, 400, "properties.provisioningState"],
    ["malformed json", { method: "PUT", rawBody: "{not json", headers: { "content-type": "application/json" } }, 400, "body"],
    ["array body", { method: "PUT", rawBody: "[]", headers: { "content-type": "application/json" } }, 400, "body"],
    ["wrong content type", { method: "PUT", rawBody: "a=b", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "Content-Type"],
    ["too large", { method: "PUT", rawBody: JSON.stringify({ properties: { repositoryUrl: "https://x/y", operatorParams: "a".repeat(1024 * 1024) } }), headers: { "content-type": "application/json" } }, 413, "body"],
  ];
  for (const [label, options, status, target] of cases) {
    const res = await http(path, options);
    t.equal(res.status, status, `${label}: ${res.text.slice(0, 300)}`);
    t.ok(res.json?.error?.code, `${label}: ARM error shape`);
    t.match(res.json?.error?.target ?? "", target, `${label}: target`);
    t.ok(res.headers["x-ms-request-id"], `${label}: request id`);
  }
  const list = await http(`${configurationsPath("c-bad")}?${V}`);
  t.same(list.json.value, [], "nothing was written");
});

t.test("ARM headers: correlation id echoed, client request id echoed only when asked", async (t) => {
  const res = await http(`/providers/Microsoft.KubernetesConfiguration/operations?${V}`, {
    headers: { "x-ms-correlation-request-id": "corr-1", "x-ms-client-request-id": "client-1", "x-ms-return-client-request-id": "true" },
  });
  t.equal(res.status, 200);
  t.equal(res.headers["x-ms-correlation-request-id"], "corr-1");
  t.equal(res.headers["x-ms-client-request-id"], "client-1");
  const quiet = await http(`/providers/Microsoft.KubernetesConfiguration/operations?${V}`, { headers: { "x-ms-client-request-id": "client-2" } });
  t.equal(quiet.headers["x-ms-client-request-id"], undefined);
  // the completion line is written after the response leaves: give it a moment
  for (let i = 0; i < 50 && !server.logs.some((l) => l.includes("corr-1")); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(server.logs.some((l) => l.includes("corr-1")), "correlation id is logged");
  const names = res.json.value.map((o: { name: string }) => o.name);
  t.ok(names.includes("Microsoft.KubernetesConfiguration/register/action"));
  t.ok(names.includes("Microsoft.KubernetesConfiguration/sourceControlConfigurations/write"));
  const unknownRoute = await http(`/nope?${V}`);
  t.equal(unknownRoute.status, 404);
  t.ok(unknownRoute.json.error.code);
});

t.test("known_hosts is shown back; protected settings never are", async (t) => {
  await makeCluster("c-kh");
  const hosts = knownHostsB64();
  const put = await http(`${configurationPath("c-kh", "kh")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: hosts }) });
  t.equal(put.status, 201, put.text);
  t.equal(put.json.properties.sshKnownHostsContents, hosts);
  const list = await http(`${configurationsPath("c-kh")}?${V}`);
  t.equal(list.json.value[0].properties.sshKnownHostsContents, hosts);
});
