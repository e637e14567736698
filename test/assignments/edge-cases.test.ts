/**
 * What happens around a rollout, not only in it: a cluster deleted mid-batch gets no orphan; an
 * assignment changed mid-batch (DoNotEnforce and a user's hot-fix) is not overwritten by the batch
 * in flight; a clash resolved by the user is taken up; an unreadable cluster fails alone; compliance
 * summaries follow agent reports through the reconciler's own trigger; quota, names and unknown
 * operations get ARM errors; a Deleted subscription takes its assignments along.
 */
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { keyOf } from "../../src/arm/resource-ids.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

let server: TestServer;
let request: ReturnType<typeof client>;

t.before(async () => {
  // one cluster per commit: the hooks below act between two clusters of a batch (the guards are per commit group)
  server = await startServer({ assignments: { batchSize: 10, complianceIntervalMs: 0, clustersPerCommit: 1 } });
  request = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

async function putCluster(rg: string, name: string, publicKeyB64?: string) {
  const res = await request(withApi(clusterPath(name, SUB, rg), CLUSTER_API), { method: "PUT", body: clusterBody(publicKeyB64) });
  if (res.status !== 201 && res.status !== 200) throw new Error(res.text);
  return res.json.id as string;
}

const configurationOf = (rg: string, cluster: string, name = "baseline") => request(withApi(configurationPath(cluster, name, SUB, rg), SCC_API));

t.test("a cluster deleted in the middle of a batch keeps no configuration", async (t) => {
  for (const n of ["e1", "e2", "e3", "e4"]) await putCluster("rg-del", n);
  await settle(server);
  t.equal((await request(withApi(assignmentPath("del", "rg-del")), { method: "PUT", body: assignmentBody() })).status, 201);
  // after the first cluster of the batch, e3 (read with the page) is deleted
  let fired = false;
  server.reconcilerHooks.afterApply = async (key) => {
    if (fired || !key.endsWith("/e1")) return;
    fired = true;
    if (key.endsWith("/e1")) t.equal((await request(withApi(clusterPath("e3", SUB, "rg-del"), CLUSTER_API), { method: "DELETE" })).status, 200);
  };
  await settle(server);
  server.reconcilerHooks.afterApply = undefined;
  const children = await server.store.inner.list({ kind: "configuration", partition: SUB, parent: keyOf(clusterPath("e3", SUB, "rg-del")), includeDeleted: true }, { limit: 10 });
  t.same(children.items, [], "nothing under the deleted cluster");
  t.equal((await configurationOf("rg-del", "e4")).status, 200, "the rest of the batch got theirs");
  await putCluster("rg-del", "e3");
  await settle(server);
  t.equal((await configurationOf("rg-del", "e3")).json.properties.provisioningState, "Succeeded", "registered again, it gets a fresh one");
});

t.test("an assignment changed mid-batch: the batch in flight writes nothing more with the old one", async (t) => {
  for (const n of ["h1", "h2", "h3"]) await putCluster("rg-hot", n);
  const body = (params: string, mode = "Default") => assignmentBody({ enforcementMode: mode }, { operatorParams: params });
  t.equal((await request(withApi(assignmentPath("hot", "rg-hot")), { method: "PUT", body: body("--git-branch=v1") })).status, 201);
  await settle(server);
  t.equal((await request(withApi(assignmentPath("hot", "rg-hot")), { method: "PUT", body: body("--git-branch=v2") })).status, 200);
  // while generation 2 rolls out, an operator switches to DoNotEnforce and hot-fixes h3 by hand
  let fired = false;
  server.reconcilerHooks.afterApply = async (key) => {
    if (fired || !key.endsWith("/h1")) return;
    fired = true;
    t.equal((await request(withApi(assignmentPath("hot", "rg-hot")), { method: "PUT", body: body("--git-branch=v2", "DoNotEnforce") })).status, 200);
    const fix = await request(withApi(configurationPath("h3", "baseline", SUB, "rg-hot"), SCC_API), { method: "PUT", body: configurationBody({ repositoryUrl: "https://github.com/example/fleet-baseline.git", operatorParams: "--git-branch=hotfix" }) });
    t.equal(fix.status, 200, fix.text);
  };
  await settle(server);
  server.reconcilerHooks.afterApply = undefined;
  t.equal((await configurationOf("rg-hot", "h3")).json.properties.operatorParams, "--git-branch=hotfix", "the hot-fix stands");
  t.equal((await configurationOf("rg-hot", "h1")).json.properties.operatorParams, "--git-branch=v2");
});

t.test("a clash the user resolves is taken up; an unreadable cluster fails alone", async (t) => {
  await putCluster("rg-clash", "x1");
  await putCluster("rg-clash", "x2");
  t.equal((await request(withApi(configurationPath("x1", "baseline", SUB, "rg-clash"), SCC_API), { method: "PUT", body: configurationBody() })).status, 201);
  // x2's stored cluster becomes unreadable (its ciphertext damaged)
  const x2 = await server.store.inner.get("cluster", keyOf(clusterPath("x2", SUB, "rg-clash")), SUB);
  if (!x2) throw new Error("x2 missing");
  await server.store.inner.replace({ ...x2, body: { ...x2.body, ct: `A${String(x2.body.ct).slice(1)}` } }, x2.etag);

  t.equal((await request(withApi(assignmentPath("clash", "rg-clash")), { method: "PUT", body: assignmentBody() })).status, 201);
  await server.reconciler.runOnce();
  const a = (await request(withApi(assignmentPath("clash", "rg-clash")))).json.properties;
  t.match(a.rollout, { status: "Completed", clustersProcessed: 2, clustersFailed: 1 }, "the rollout completed, counting the cluster it could not read");
  t.equal(a.provisioningState, "Failed");
  t.notOk((await configurationOf("rg-clash", "x1")).json.managedBy, "x1 keeps the user's configuration");

  t.equal((await request(withApi(configurationPath("x1", "baseline", SUB, "rg-clash"), SCC_API), { method: "DELETE" })).status, 200);
  await server.reconciler.runOnce();
  const taken = await configurationOf("rg-clash", "x1");
  t.match(taken.json.managedBy, /configurationAssignments\/clash$/, "once the user deleted theirs, the assignment's is created");

  // the failed cluster waits in the outbox, backing off; settling does not wait for it
  const item = await server.store.inner.get("clusterWork", keyOf(clusterPath("x2", SUB, "rg-clash")), SUB);
  t.ok(typeof item?.body.retryAt === "number" && (item.body.attempts as number) >= 1, "x2 is in the outbox with a back-off");
  await settle(server, 5000);

  // repaired, and a PUT of the Failed assignment (same body) tries again, as ARM expects
  const damaged = await server.store.inner.get("cluster", keyOf(clusterPath("x2", SUB, "rg-clash")), SUB);
  if (!damaged) throw new Error("x2 missing");
  await server.store.inner.replace({ ...x2 }, damaged.etag);
  const again = await request(withApi(assignmentPath("clash", "rg-clash")), { method: "PUT", body: assignmentBody() });
  t.equal(again.json.properties.rollout.generation, 2, "a new rollout");
  await settle(server);
  const healed = (await request(withApi(assignmentPath("clash", "rg-clash")))).json.properties;
  t.equal(healed.provisioningState, "Succeeded");
  t.equal((await configurationOf("rg-clash", "x2")).status, 200, "x2 got its configuration");
});

t.test("a PUT that changes nothing does not stop the outbox; a deletion that stopped half-way is finished by a retry", async (t) => {
  await putCluster("rg-same", "m1");
  t.equal((await request(withApi(assignmentPath("same", "rg-same")), { method: "PUT", body: assignmentBody() })).status, 201);
  await settle(server);
  // a repeated PUT rewrites the record (new etag) with the same generation, then a cluster registers
  const repeated = await request(withApi(assignmentPath("same", "rg-same")), { method: "PUT", body: assignmentBody() });
  t.equal(repeated.json.properties.rollout.generation, 1);
  await putCluster("rg-same", "m2");
  await settle(server);
  t.equal((await configurationOf("rg-same", "m2")).status, 200, "the later cluster still gets it");

  // a deletion that removed the cluster and then stopped: its children are still stored
  const m1 = keyOf(clusterPath("m1", SUB, "rg-same"));
  await server.store.inner.create({ kind: "system", key: `deleting:${m1}`, partition: SUB, parent: "deleting", schemaVersion: 1, body: { deleting: true } });
  const cluster = await server.store.inner.get("cluster", m1, SUB);
  await server.store.inner.delete("cluster", m1, SUB, cluster?.etag);
  const left = await server.store.inner.list({ kind: "configuration", partition: SUB, parent: m1, includeDeleted: true }, { limit: 5 });
  t.equal(left.items.length, 1, "a configuration was left behind");
  t.equal((await request(withApi(clusterPath("m1", SUB, "rg-same"), CLUSTER_API), { method: "DELETE" })).status, 204, "the retried DELETE finds no cluster");
  const after = await server.store.inner.list({ kind: "configuration", partition: SUB, parent: m1, includeDeleted: true }, { limit: 5 });
  t.same(after.items, [], "and finishes the deletion");
});

interface Summary {
  totalClusters: number;
  compliant: number;
  pending: number;
  evaluatedAt: string;
}

/** reconciler passes (as its timer would run them) until the summary satisfies `ok`, at most 10 s */
async function summaryWhen(ok: (s: Summary | undefined) => boolean): Promise<Summary | undefined> {
  let summary: Summary | undefined;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    await server.reconciler.runOnce();
    summary = (await request(withApi(assignmentPath("sum", "rg-sum")))).json.properties.complianceSummary as Summary | undefined;
    if (ok(summary)) return summary;
    await new Promise((r) => setTimeout(r, 50));
  }
  return summary;
}

t.test("summaries follow agent reports through the reconciler's own trigger", async (t) => {
  const key = generateAgentKey("ec");
  const id = await putCluster("rg-sum", "s1", key.publicKeyB64);
  t.equal((await request(withApi(assignmentPath("sum", "rg-sum")), { method: "PUT", body: assignmentBody() })).status, 201);
  const before = await summaryWhen((s) => s?.totalClusters === 1);
  t.match(before, { totalClusters: 1, pending: 1, compliant: 0 });
  const privateKey = loadAgentKey(key.privateKeyPem);
  const agent = new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: id, privateKey, ca: server.ca }), privateKey, outDir: tempDir("agent-out-") });
  t.same((await agent.runOnce()).applied, ["baseline"]);
  // no refresh forced: the report's write is what makes the reconciler look again
  const after = await summaryWhen((s) => s?.compliant === 1);
  t.match(after, { totalClusters: 1, pending: 0, compliant: 1 });
  t.ok(Date.parse(after?.evaluatedAt ?? "") >= Date.parse(before?.evaluatedAt ?? ""), "a later evaluation");
});

t.test("names, unknown operations, quota", async (t) => {
  for (const bad of ["has%20space", "a..b-", "-x", "x".repeat(64)]) {
    const res = await request(withApi(assignmentPath(bad, "rg-names")), { method: "PUT", body: assignmentBody() });
    t.equal(res.status, 400, `'${bad}' refused`);
  }
  const unknown = await request(withApi(`${assignmentPath("nope", "rg-names")}/operationResults/00000000-0000-0000-0000-000000000000`));
  t.equal(unknown.status, 404);
  t.equal(unknown.json.error.code, "OperationNotFound");
  const dup = await request(withApi(assignmentPath("dup", "rg-names")), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { env: "a", ENV: "b" } } }) });
  t.equal(dup.status, 400, "a selector naming one tag twice can never match: refused");

  const QUOTA_SUB = "00000000-0000-0000-0000-00000000000a";
  for (let i = 0; i < 200; i++) {
    const res = await request(withApi(assignmentPath(`q${i}`, undefined, QUOTA_SUB)), { method: "PUT", body: assignmentBody() });
    if (res.status !== 201) throw new Error(res.text);
  }
  const over = await request(withApi(assignmentPath("q200", undefined, QUOTA_SUB)), { method: "PUT", body: assignmentBody() });
  t.equal(over.status, 409);
  t.equal(over.json.error.code, "QuotaExceeded");
  t.equal((await request(withApi(assignmentPath("q7", undefined, QUOTA_SUB)), { method: "PUT", body: assignmentBody({ enforcementMode: "DoNotEnforce" }) })).status, 200, "an update is not a new assignment");

  // a Deleted subscription takes its assignments (and their status) along
  const lifecycle = await request(`/subscriptions/${QUOTA_SUB}?api-version=2.0`, { method: "PUT", body: { state: "Deleted", registrationDate: new Date().toUTCString(), properties: {} } });
  t.equal(lifecycle.status, 200, lifecycle.text);
  for (const kind of ["assignment", "assignmentStatus"] as const) {
    t.same((await server.store.inner.list({ kind, partition: QUOTA_SUB }, { limit: 5 })).items, [], `no ${kind} left`);
  }
});
