/**
 * Compliance as reference agents (src/agent) report it: every selected cluster is Pending until its
 * agent applies the configuration the assignment created, then Compliant; a new assignment generation
 * makes them Pending again until the agents apply it; the deletion reaches the agents as tombstones.
 */
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, CLUSTER_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

const RG = "rg-agents";
let server: TestServer;
let request: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer({ agent: { stalenessMs: 1000 }, assignments: { batchSize: 2 } });
  request = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

async function registerWithAgent(name: string, tags: Record<string, string>): Promise<Agent> {
  const key = generateAgentKey("ec");
  const res = await request(withApi(clusterPath(name, SUB, RG), CLUSTER_API), { method: "PUT", body: { ...clusterBody(key.publicKeyB64), tags } });
  if (res.status !== 201) throw new Error(res.text);
  const privateKey = loadAgentKey(key.privateKeyPem);
  return new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: res.json.id, privateKey, ca: server.ca }), privateKey, outDir: tempDir("agent-out-") });
}

async function summary() {
  await server.reconciler.refreshAllSummaries();
  return (await request(withApi(assignmentPath("baseline", RG)))).json.properties.complianceSummary;
}

const states = async (): Promise<string[]> =>
  (await request(withApi(`${assignmentPath("baseline", RG)}/complianceResults`))).json.value.map((r: { complianceState: string }) => r.complianceState);

t.test("Pending -> Compliant as the reference agents report, per generation", async (t) => {
  const agents = [await registerWithAgent("k1", { ring: "prod" }), await registerWithAgent("k2", { ring: "prod" }), await registerWithAgent("k3", { ring: "prod" })];
  await registerWithAgent("k4", { ring: "canary" }); // not selected: never counted

  const put = await request(withApi(assignmentPath("baseline", RG)), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }) });
  t.equal(put.status, 201, put.text);
  await settle(server);
  t.match(await summary(), { totalClusters: 3, compliant: 0, pending: 3, nonCompliant: 0, failed: 0 }, "created, not applied yet: Pending");
  t.same(await states(), ["Pending", "Pending", "Pending"]);

  // two agents apply and report Installed
  for (const agent of agents.slice(0, 2)) {
    const once = await agent.runOnce();
    t.same(once.applied, ["baseline"], "the agent received the managed configuration and applied it");
  }
  t.match(await summary(), { totalClusters: 3, compliant: 2, pending: 1 }, "two of three comply");
  await agents[2]?.runOnce();
  t.match(await summary(), { totalClusters: 3, compliant: 3, pending: 0 }, "all three comply");
  t.same(await states(), ["Compliant", "Compliant", "Compliant"]);

  // a new generation: Pending again until each agent applies it
  const update = await request(withApi(assignmentPath("baseline", RG)), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }, { operatorParams: "--git-readonly --git-branch=v2" }) });
  t.equal(update.status, 200);
  await settle(server);
  t.match(await summary(), { totalClusters: 3, compliant: 0, pending: 3 }, "an Installed report about the old generation does not count");
  for (const agent of agents) t.same((await agent.runOnce()).applied, ["baseline"], "each agent applied generation 2");
  t.match(await summary(), { totalClusters: 3, compliant: 3 });

  // deletion: the agents get tombstones and remove it; the tombstones then go
  const del = await request(withApi(assignmentPath("baseline", RG)), { method: "DELETE" });
  t.equal(del.status, 202);
  await settle(server);
  for (const agent of agents) t.same((await agent.runOnce()).removed, ["baseline"], "the agent removed the configuration");
  for (const name of ["k1", "k2", "k3"]) {
    const key = `${clusterPath(name, SUB, RG)}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/baseline`.toLowerCase();
    t.equal(await server.store.inner.get("configuration", key, SUB), undefined, `${name}: the tombstone went once its agent reported the removal`);
  }
});
