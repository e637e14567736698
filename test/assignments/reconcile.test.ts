/**
 * Configuration assignments end to end over HTTPS: the reconciler (driven with settle()) carries an
 * assignment to every matching cluster of its scope, to clusters registered or re-tagged later, and
 * takes back what it created when a cluster stops matching or the assignment goes; managed
 * configurations are guarded by 409s; a name clash is reported, not overwritten.
 */
import t from "tap";
import type { Principal } from "../../src/ports/principal.js";
import { clusterRef, configurationRef } from "../../src/arm/resource-ids.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, assignmentsPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

let server: TestServer;
let request: ReturnType<typeof client>;

t.before(async () => {
  // batches of 2 clusters: every rollout below takes several batches
  server = await startServer({ assignments: { batchSize: 2 }, pageSize: 3 });
  request = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

async function putCluster(rg: string, name: string, tags: Record<string, string>, extra: Record<string, unknown> = {}) {
  const res = await request(withApi(clusterPath(name, SUB, rg), CLUSTER_API), { method: "PUT", body: { ...clusterBody(undefined, extra), tags } });
  if (res.status !== 200 && res.status !== 201) throw new Error(`cluster PUT ${res.status} ${res.text}`);
}

/** the test's own identity, for reading records the way the ARM surface does */
const principal = (): Principal => ({ tenantId: server.identity.tenantId, objectId: server.identity.objectId, name: "test", kind: "User" });

const getConfiguration = (rg: string, cluster: string, name = "baseline") => request(withApi(configurationPath(cluster, name, SUB, rg), SCC_API));

async function configured(rg: string, clusters: string[], name = "baseline"): Promise<string[]> {
  const out: string[] = [];
  for (const c of clusters) if ((await getConfiguration(rg, c, name)).status === 200) out.push(c);
  return out;
}

t.test("resource-group and subscription scopes, tag selector, later and re-tagged clusters", async (t) => {
  await putCluster("rg-a", "a1", { env: "prod" });
  await putCluster("rg-a", "a2", { env: "dev" });
  await putCluster("rg-a", "a3", { Env: "prod", team: "x" });
  await putCluster("rg-b", "b1", { env: "prod" });

  // resource-group scope, selecting env=prod (tag keys are case-insensitive)
  const put = await request(withApi(assignmentPath("prod-baseline", "rg-a")), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { env: "prod" } } }) });
  t.equal(put.status, 201, put.text);
  t.equal(put.json.properties.provisioningState, "Accepted", "nothing rolled out yet");
  t.equal(put.json.type, "Microsoft.KubernetesConfiguration/configurationAssignments");
  await settle(server);
  t.same(await configured("rg-a", ["a1", "a2", "a3"]), ["a1", "a3"], "only the prod clusters of rg-a");
  t.same(await configured("rg-b", ["b1"]), [], "a cluster of another resource group is out of scope");

  const managed = await getConfiguration("rg-a", "a1");
  t.match(managed.json.managedBy, /\/resourceGroups\/rg-a\/providers\/Microsoft\.KubernetesConfiguration\/configurationAssignments\/prod-baseline$/, "marked as managed, visibly");
  t.equal(managed.json.properties.repositoryUrl, "https://github.com/example/fleet-baseline.git");
  t.equal(managed.json.properties.operatorNamespace, "flux-baseline");

  const done = await request(withApi(assignmentPath("prod-baseline", "rg-a")));
  t.equal(done.json.properties.provisioningState, "Succeeded");
  t.match(done.json.properties.rollout, { status: "Completed", clustersProcessed: 3, clustersTotal: 3, generation: 1 }, "progress: every cluster of the scope visited");

  // a cluster registered after the assignment
  await putCluster("rg-a", "a4", { env: "prod" });
  await settle(server);
  t.same(await configured("rg-a", ["a4"]), ["a4"], "a cluster registered later gets it");

  // tags change: a2 starts matching, a3 stops
  await putCluster("rg-a", "a2", { env: "prod" });
  await putCluster("rg-a", "a3", { env: "staging" });
  await settle(server);
  t.same(await configured("rg-a", ["a1", "a2", "a3", "a4"]), ["a1", "a2", "a4"], "a2 gained it, a3 lost it");

  // subscription scope: every resource group
  const sub = await request(withApi(assignmentPath("everywhere")), { method: "PUT", body: assignmentBody({ configurationName: "security" }, { operatorNamespace: "flux-security", operatorInstanceName: "security" }) });
  t.equal(sub.status, 201, sub.text);
  await settle(server);
  t.same(await configured("rg-a", ["a1", "a2", "a3", "a4"], "security"), ["a1", "a2", "a3", "a4"]);
  t.same(await configured("rg-b", ["b1"], "security"), ["b1"], "subscription scope reaches other resource groups");

  // lists: by resource group, and every assignment of the subscription
  const byRg = await request(withApi(assignmentsPath("rg-a")));
  t.same(byRg.json.value.map((a: { name: string }) => a.name), ["prod-baseline"]);
  const bySub = await request(withApi(assignmentsPath()));
  t.same(bySub.json.value.map((a: { name: string }) => a.name).sort(), ["everywhere", "prod-baseline"]);

  // an idempotent PUT starts no new rollout
  const again = await request(withApi(assignmentPath("everywhere")), { method: "PUT", body: assignmentBody({ configurationName: "security" }, { operatorNamespace: "flux-security", operatorInstanceName: "security" }) });
  t.equal(again.status, 200);
  t.equal(again.json.properties.rollout.generation, 1, "same spec, same generation");
  t.equal(again.json.properties.provisioningState, "Succeeded");
  const gen = (await getConfiguration("rg-b", "b1", "security")).json;
  t.match(gen.properties.complianceStatus.complianceState, "Pending");

  // an update reaches every managed configuration once: created at generation 1, replaced once
  const update = await request(withApi(assignmentPath("everywhere")), { method: "PUT", body: assignmentBody({ configurationName: "security" }, { operatorNamespace: "flux-security", operatorInstanceName: "security", operatorParams: "--git-readonly --git-branch=release" }) });
  t.equal(update.json.properties.rollout.generation, 2);
  t.equal(update.json.properties.provisioningState, "Updating");
  await settle(server);
  for (const [rg, c] of [["rg-a", "a1"], ["rg-a", "a2"], ["rg-a", "a3"], ["rg-a", "a4"], ["rg-b", "b1"]] as const) {
    const { record } = await server.services.configurations.get(principal(), configurationRef(clusterRef(SUB, rg, c), "security"));
    t.equal(record.generation, 2, `${c}: written once per generation`);
    t.equal(record.spec.operatorParams, "--git-readonly --git-branch=release");
  }
});

t.test("managed configurations: 409 naming the assignment unless DoNotEnforce; a name clash is reported, not overwritten", async (t) => {
  await putCluster("rg-c", "c1", {});
  await putCluster("rg-c", "c2", {});
  // c2 already has a configuration of the same name, made by hand
  const own = await request(withApi(configurationPath("c2", "guard", SUB, "rg-c"), SCC_API), { method: "PUT", body: configurationBody() });
  t.equal(own.status, 201);
  const body = assignmentBody({ configurationName: "guard" });
  t.equal((await request(withApi(assignmentPath("guard", "rg-c")), { method: "PUT", body })).status, 201);
  await settle(server);

  const c1 = await getConfiguration("rg-c", "c1", "guard");
  t.ok(c1.json.managedBy, "c1 got the managed configuration");
  const c2 = await getConfiguration("rg-c", "c2", "guard");
  t.notOk(c2.json.managedBy, "c2 keeps the user's configuration");
  t.equal(c2.json.properties.repositoryUrl, "git@github.com:example/cluster-config.git", "not overwritten");

  const results = await request(withApi(`${assignmentPath("guard", "rg-c")}/complianceResults`));
  t.equal(results.status, 200);
  const clash = results.json.value.find((r: { clusterId: string }) => r.clusterId.endsWith("/c2"));
  t.equal(clash.complianceState, "NonCompliant");
  t.match(clash.message, /already exists on this cluster and it was created by a user; it was left as it is/);

  const change = await request(withApi(configurationPath("c1", "guard", SUB, "rg-c"), SCC_API), { method: "PUT", body: configurationBody() });
  t.equal(change.status, 409);
  t.equal(change.json.error.code, "ManagedByConfigurationAssignment");
  t.match(change.json.error.message, /configurationAssignments\/guard/, "the message names the assignment");
  const del = await request(withApi(configurationPath("c1", "guard", SUB, "rg-c"), SCC_API), { method: "DELETE" });
  t.equal(del.status, 409);
  t.equal((await getConfiguration("rg-c", "c1", "guard")).status, 200, "still there");

  // DoNotEnforce: users may change it; the assignment only reports
  t.equal((await request(withApi(assignmentPath("guard", "rg-c")), { method: "PUT", body: assignmentBody({ configurationName: "guard", enforcementMode: "DoNotEnforce" }) })).status, 200);
  await settle(server);
  const allowed = await request(withApi(configurationPath("c1", "guard", SUB, "rg-c"), SCC_API), { method: "PUT", body: configurationBody() });
  t.equal(allowed.status, 200, allowed.text);
  await settle(server);
  t.equal((await getConfiguration("rg-c", "c1", "guard")).json.properties.repositoryUrl, "git@github.com:example/cluster-config.git", "DoNotEnforce does not put it back");
  const report = await request(withApi(`${assignmentPath("guard", "rg-c")}/complianceResults`));
  const c1Result = report.json.value.find((r: { clusterId: string }) => r.clusterId.endsWith("/c1"));
  t.equal(c1Result.complianceState, "NonCompliant", "but reports the difference");

  // back to Default: enforced again
  t.equal((await request(withApi(assignmentPath("guard", "rg-c")), { method: "PUT", body })).status, 200);
  await settle(server);
  t.equal((await getConfiguration("rg-c", "c1", "guard")).json.properties.repositoryUrl, "https://github.com/example/fleet-baseline.git", "Default restores the assignment's configuration");
});

t.test("deleting an assignment removes what it manages (202, Location, then 200) and nothing else", async (t) => {
  await putCluster("rg-d", "d1", {});
  await putCluster("rg-d", "d2", {});
  await putCluster("rg-d", "d3", {});
  t.equal((await request(withApi(configurationPath("d3", "other", SUB, "rg-d"), SCC_API), { method: "PUT", body: configurationBody() })).status, 201);
  t.equal((await request(withApi(assignmentPath("temp", "rg-d")), { method: "PUT", body: assignmentBody({ configurationName: "other" }) })).status, 201);
  await settle(server);
  t.same(await configured("rg-d", ["d1", "d2", "d3"], "other"), ["d1", "d2", "d3"]);

  const del = await request(withApi(assignmentPath("temp", "rg-d")), { method: "DELETE" });
  t.equal(del.status, 202);
  const location = String(del.headers.location);
  t.match(location, /\/configurationAssignments\/temp\/operationResults\/[0-9a-f-]+\?api-version=2026-11-01-preview$/);
  t.equal(del.headers["retry-after"], "5");
  const url = new URL(location);
  const polling = await request(url.pathname + url.search);
  t.equal(polling.status, 202, "still running");
  const deleting = await request(withApi(assignmentPath("temp", "rg-d")));
  t.equal(deleting.json.properties.provisioningState, "Deleting");
  const rewrite = await request(withApi(assignmentPath("temp", "rg-d")), { method: "PUT", body: assignmentBody({ configurationName: "other" }) });
  t.equal(rewrite.status, 409, "no PUT while it is being deleted");
  t.equal((await request(withApi(assignmentPath("temp", "rg-d")), { method: "DELETE" })).headers.location, location, "a repeated DELETE polls the same operation");

  await settle(server);
  t.equal((await request(url.pathname + url.search)).status, 200, "the operation completed");
  t.equal((await request(withApi(assignmentPath("temp", "rg-d")))).status, 404, "the assignment is gone");
  t.same(await configured("rg-d", ["d1", "d2", "d3"], "other"), ["d3"], "its configurations went; the user's stayed");
  // the agents learn of it: the removed ones are tombstones in the store until their agent reports
  const tombstone = await server.store.inner.get("configuration", `${clusterPath("d1", SUB, "rg-d")}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/other`.toLowerCase(), SUB);
  t.equal(tombstone?.deleted, true, "a tombstone for the agent");
  t.equal((await request(withApi(assignmentPath("temp", "rg-d")), { method: "DELETE" })).status, 204);
});

t.test("requests that cannot be honoured get a clear ARM error", async (t) => {
  const url = withApi(assignmentPath("bad", "rg-e"));
  const secret = await request(url, { method: "PUT", body: assignmentBody({}, { configurationProtectedSettings: { sshPrivateKey: "c2VjcmV0" } }) });
  t.equal(secret.status, 400);
  t.equal(secret.json.error.code, "SensitiveInputNotAllowed");
  t.equal(secret.json.error.target, "properties.configuration.configurationProtectedSettings");
  t.match(secret.json.error.message, /at most 48 hours/);
  t.notMatch(secret.text, /c2VjcmV0/, "the value is not echoed");
  const hosts = await request(url, { method: "PUT", body: assignmentBody({}, { sshKnownHostsContents: "Z2l0aHViLmNvbQ==" }) });
  t.equal(hosts.json.error.target, "properties.configuration.sshKnownHostsContents");

  const badUrl = await request(url, { method: "PUT", body: assignmentBody({}, { repositoryUrl: "https://user:pw@example.com/x.git" }) });
  t.equal(badUrl.status, 400);
  t.equal(badUrl.json.error.target, "properties.configuration.repositoryUrl");
  const mode = await request(url, { method: "PUT", body: assignmentBody({ enforcementMode: "Sometimes" }) });
  t.equal(mode.status, 400);
  const selector = await request(url, { method: "PUT", body: assignmentBody({ clusterSelector: { region: "eu" } }) });
  t.equal(selector.status, 400);
  t.equal(selector.json.error.target, "properties.clusterSelector.region");
  const missing = await request(url, { method: "PUT", body: { properties: { configurationName: "x" } } });
  t.equal(missing.status, 400);
  t.equal((await request(url)).status, 404, "nothing was written");

  t.equal((await request(url, { method: "PUT", body: assignmentBody() })).status, 201);
  const rename = await request(url, { method: "PUT", body: assignmentBody({ configurationName: "renamed" }) });
  t.equal(rename.status, 400);
  t.equal(rename.json.error.code, "PropertyChangeNotAllowed");
  const oldApi = await request(withApi(assignmentPath("bad", "rg-e"), "2024-11-01"));
  t.equal(oldApi.status, 400, "only the preview api-version serves this type");
  t.equal((await request(withApi(assignmentPath("bad", "rg-e")), { token: null })).status, 401);
});
