/**
 * A real crash: the service process (src/main.ts, embedded SQLite) is killed with SIGKILL in the middle
 * of a rollout and started again on the same data. The new process waits out the dead one's lease,
 * resumes, and completes: every cluster's agent then receives the configuration at generation 1 -
 * written exactly once, none missing.
 */
import t from "tap";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, SUB } from "../helpers/fixtures.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { tempDir } from "../helpers/server.js";
import { exited, freePort, ready, startProcess } from "../helpers/process.js";
import { assignmentBody, assignmentPath, CLUSTER_API, withApi } from "../helpers/assignments.js";
import fs from "node:fs";
import path from "node:path";

const CLUSTERS = 400;
const RG = "rg-kill";
const ENV = { ASSIGNMENT_BATCH_SIZE: "2", ASSIGNMENT_LEASE_SECONDS: "2", ASSIGNMENT_RECONCILE_INTERVAL_MS: "100" };

t.test("SIGKILL mid-rollout, restart: completed, exactly once per cluster", async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const first = startProcess(dataDir, port, ENV);
  t.teardown(() => first.child.kill("SIGKILL"));
  const ca = await ready(url, dataDir);
  const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
  const request = client(url, ca, token);

  const agents = new Map<string, TestAgent>();
  const queue = Array.from({ length: CLUSTERS }, (_, i) => `k${String(i).padStart(3, "0")}`);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const agent = testAgent();
        const res = await request(withApi(clusterPath(name, SUB, RG), CLUSTER_API), { method: "PUT", body: clusterBody(agent.publicKeyB64) });
        if (res.status !== 201) throw new Error(res.text);
        agents.set(res.json.id, agent);
      }
    }),
  );

  t.equal((await request(withApi(assignmentPath("kill", RG)), { method: "PUT", body: assignmentBody() })).status, 201);
  let processed = 0;
  for (let i = 0; i < 2000 && processed < 20; i++) {
    processed = (await request(withApi(assignmentPath("kill", RG)))).json.properties.rollout.clustersProcessed;
    if (processed < 20) await new Promise((r) => setTimeout(r, 5));
  }
  first.child.kill("SIGKILL");
  await exited(first.child);
  t.ok(processed >= 20, `the rollout was under way (${processed} clusters recorded)`);

  const second = startProcess(dataDir, port, ENV);
  t.teardown(() => second.child.kill("SIGKILL"));
  await ready(url, dataDir);
  const after = client(url, ca, token);
  const atRestart = (await after(withApi(assignmentPath("kill", RG)))).json.properties.rollout;
  t.ok(atRestart.clustersProcessed < CLUSTERS, `killed mid-rollout: ${atRestart.clustersProcessed} of ${CLUSTERS} recorded`);
  let rollout = atRestart;
  for (let i = 0; i < 600 && rollout.status !== "Completed"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    rollout = (await after(withApi(assignmentPath("kill", RG)))).json.properties.rollout;
  }
  t.match(rollout, { status: "Completed", clustersProcessed: CLUSTERS, clustersTotal: CLUSTERS }, "the restarted process completed the rollout");

  // what each cluster's agent receives: the configuration, at generation 1
  const generations = new Map<number, number>();
  for (const [clusterId, agent] of agents) {
    const res = await client(url, ca, await agent.token(clusterId))(`/agent/v1${clusterId}/configurations`);
    const received = (res.json?.configurations ?? []) as Array<{ name: string; generation: number; deleted: boolean }>;
    const baseline = received.filter((c) => c.name === "baseline" && !c.deleted);
    const g = baseline.length === 1 ? (baseline[0]?.generation ?? -1) : -baseline.length;
    generations.set(g, (generations.get(g) ?? 0) + 1);
  }
  t.same(Object.fromEntries(generations), { 1: CLUSTERS }, `all ${CLUSTERS} agents received it once, at generation 1`);
});
