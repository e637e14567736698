/**
 * Staged rollouts (issue #15) over 300 clusters, on SQLite and on Cosmos DB, with agents that poll the
 * real agent API with their own keys and report per generation (Installed, or Failed when told to):
 * - generation 2 goes stage by stage: the canaries (by tag) first; their gate is met, they bake, and only
 *   then the second stage (50 % of the rest, stable order) opens; its agents are told to fail, the gate
 *   fails and the rollout halts: the failing clusters and their messages are in the status, the third
 *   stage never changes (its configurations are not even rewritten);
 * - clusters that join meanwhile get what their stage has (a canary the new one, a later one the old);
 * - the agents fixed, `resume` continues: the stage is judged again, passes, the third stage opens; the
 *   service crashes in the middle of writing it and another replica finishes: every configuration was
 *   written at most once per generation (its own generation counter says so);
 * - a bad generation 3 reaches the canaries only; `rollback` restores generation 2's configuration there
 *   and nowhere else (nothing else had changed).
 */
import t from "tap";
import { AgentClient } from "../../src/agent/client.js";
import { clusterRef, configurationId, keyOf } from "../../src/arm/resource-ids.js";
import type { Clock } from "../../src/ports/clock.js";
import { MovableClock } from "../helpers/movable-clock.js";
import { cosmosBackend, sqliteBackend, type Backend } from "../helpers/store-backends.js";
import { Persistence } from "../../src/persistence/index.js";
import type { Store } from "../../src/store/port.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, SUB } from "../helpers/fixtures.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { assignmentBody, assignmentPath, CLUSTER_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

const CLUSTERS = 300;
const CANARIES = 30;
const RG = "rg-staged";
const NAME = "fleet";
const LEASE_MS = 1500;
/**
 * The canaries' bake. It passes when the test moves the service's clock past it, never by itself: with a
 * 2-second bake slept in real time, a slow reconciler pass (Cosmos DB on a loaded 2-core CI machine) could
 * judge the gate again after the bake had run out inside one settle(), and the stage passed before the
 * test had looked at it baking (and, earlier, before the late canary had joined).
 */
const BAKE_SECONDS = 300;

const v = (branch: string) => ({ operatorParams: `--git-readonly --git-branch=${branch}` });

const replica = (backend: Backend, store: Store, holder: string, clock: Clock) =>
  startServer({ dataDir: backend.dataDir, store, clock, retention: { holder }, assignments: { batchSize: 50, leaseMs: LEASE_MS, gateIntervalMs: 0 } });

/** a cluster's agent: polls its desired state with its own key, reports each new generation Installed, or Failed when told to */
class FleetAgent {
  fail = false;
  /** what it runs: the operatorParams of the generation it applied */
  running?: string;
  private etag?: string;
  private reported = new Map<number, "Installed" | "Failed">();
  constructor(
    readonly clusterId: string,
    readonly name: string,
    private readonly key: TestAgent,
  ) {}

  async round(server: TestServer): Promise<void> {
    // its tokens are dated by the service's clock (moved on past the bake)
    const api = new AgentClient({ serviceUrl: server.url, clusterId: this.clusterId, privateKey: this.key.privateKey, ca: server.ca, now: () => server.clock.now() });
    const polled = await api.poll(this.etag ? { etag: this.etag } : {});
    if (polled.status === 200) {
      this.etag = polled.etag;
      this.desired = polled.state.configurations.find((c) => c.name === "baseline" && !c.deleted);
    }
    const c = this.desired;
    if (!c) return;
    const state = this.fail ? "Failed" : "Installed";
    if (this.reported.get(c.generation) === state) return;
    const report = this.fail
      ? { observedGeneration: c.generation, complianceState: "Failed" as const, message: `helm upgrade failed on ${this.name}: CrashLoopBackOff`, messageLevel: "Error" as const }
      : { observedGeneration: c.generation, complianceState: "Installed" as const, message: "applied", messageLevel: "Information" as const };
    const answer = await api.reportStatus("baseline", report);
    if (answer.accepted) {
      this.reported.set(c.generation, state);
      if (!this.fail) this.running = c.properties.operatorParams;
    }
  }

  private desired?: { generation: number; properties: { operatorParams?: string } };
}

async function inParallel<T>(items: T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await each(item);
  }));
}

for (const make of [sqliteBackend, cosmosBackend]) {
  t.test(`three stages over ${CLUSTERS} clusters on ${make.name.replace("Backend", "")}`, async (t) => {
    const backend = await make();
    t.teardown(() => backend.close());
    const clock = new MovableClock();
    let server = await replica(backend, await backend.open(), "replica-a", clock);
    let closed = false;
    t.teardown(async () => {
      if (!closed) await server.close();
    });
    const arm = () => client(server.url, server.ca, server.token);
    const began = Date.now();
    const phase = (label: string) => t.comment(`${((Date.now() - began) / 1000).toFixed(1)} s: ${label}`);
    const url = withApi(assignmentPath(NAME, RG));
    const get = async () => (await arm()(url)).json.properties;

    // the fleet: 30 canaries (tag ring=canary), 270 others
    const agents: FleetAgent[] = [];
    const register = async (name: string, ring: string): Promise<FleetAgent> => {
      const key = testAgent();
      const res = await arm()(withApi(clusterPath(name, SUB, RG), CLUSTER_API), { method: "PUT", body: { ...clusterBody(key.publicKeyB64), tags: { ring } } });
      if (res.status !== 201) throw new Error(res.text);
      const agent = new FleetAgent(res.json.id, name, key);
      agents.push(agent);
      return agent;
    };
    // one through the API; the others seeded straight into the store from its record, a commit per 100
    // (the Cosmos DB test server takes ~0.2 s per cluster PUT): each with its own agent key
    const first = await register("c000", "canary");
    const template = (await new Persistence(server.store, server.codec).clusters.get(SUB, first.clusterId as never))?.record;
    if (!template) throw new Error("the first cluster");
    const seeded = Array.from({ length: CLUSTERS - 1 }, (_, j) => {
      const i = j + 1;
      const name = `c${String(i).padStart(3, "0")}`;
      const key = testAgent();
      const id = clusterRef(SUB, RG, name).id;
      agents.push(new FleetAgent(id, name, key));
      return { ...template, id, name, tags: { ring: i < CANARIES ? "canary" : "broad" }, properties: { ...template.properties, agentPublicKeyCertificate: key.publicKeyB64 } };
    });
    const seeding = new Persistence(server.store, server.codec);
    for (let i = 0; i < seeded.length; i += 100) {
      await seeding.atomically(async () => {
        for (const record of seeded.slice(i, i + 100)) await seeding.clusters.write(record, undefined);
      });
    }
    await settle(server);
    const canaryAgents = agents.filter((a) => Number(a.name.slice(1)) < CANARIES);
    /** the given agents (all by default) poll once, and report what is new */
    const agentRound = (which: FleetAgent[] = agents) => inParallel(which, 16, (a) => a.round(server));

    const repo = () => new Persistence(server.store, server.codec);
    /** each cluster's configuration: its operatorParams and its own generation counter (one per write) */
    const configurations = async () => {
      const idOf = (a: FleetAgent) => configurationId(clusterRef(SUB, RG, a.name).id, "baseline");
      const found = await repo().configurations.getMany(SUB, agents.map(idOf));
      return new Map(agents.map((a) => [a.name, found.get(keyOf(idOf(a)))?.record]));
    };
    const byParams = async () => {
      const counts: Record<string, number> = {};
      for (const c of (await configurations()).values()) counts[c?.spec.operatorParams ?? "none"] = (counts[c?.spec.operatorParams ?? "none"] ?? 0) + 1;
      return counts;
    };

    phase("registered");
    // generation 1, without a policy: everywhere at once, as before
    t.equal((await arm()(url, { method: "PUT", body: assignmentBody({}, v("v1")) })).status, 201);
    await settle(server);
    t.same(await byParams(), { "--git-readonly --git-branch=v1": CLUSTERS }, "generation 1 everywhere");

    phase("generation 1 done");
    const policy = {
      stages: [
        { name: "canary", clusterSelector: { tags: { ring: "canary" } }, bakeTime: `PT${BAKE_SECONDS}S`, gates: { minInstalledPercentage: 100, progressDeadline: "PT10M" } },
        { name: "early", percentage: 50, gates: { minInstalledPercentage: 90, maxFailures: 5, progressDeadline: "PT10M" } },
        { name: "broad" },
      ],
    };
    const what = await arm()(withApi(`${assignmentPath(NAME, RG)}/whatIf`), { method: "POST", body: assignmentBody({ rolloutPolicy: policy }, v("v2")) });
    t.equal(what.status, 200);
    t.same(what.json.stages, [{ name: "canary", clusters: 30 }, { name: "early", clusters: 135 }, { name: "broad", clusters: 135 }], "whatIf: the stages and their members, before anything changes");
    t.match(what.json.value[0], { change: "Modify", changedProperties: ["operatorParams"] });
    t.same(await byParams(), { "--git-readonly --git-branch=v1": CLUSTERS }, "whatIf changed nothing");

    phase("whatIf done");
    // generation 2, staged
    t.equal((await arm()(url, { method: "PUT", body: assignmentBody({ rolloutPolicy: policy }, v("v2")) })).status, 200);
    await settle(server);
    let rollout = (await get()).rollout;
    t.match(rollout, { status: "InProgress", generation: 2, currentStage: "canary", stages: [{ name: "canary", state: "Waiting", clustersTotal: 30 }, { state: "NotStarted", clustersTotal: 135 }, { state: "NotStarted", clustersTotal: 135 }] });
    t.same(await byParams(), { "--git-readonly --git-branch=v1": 270, "--git-readonly --git-branch=v2": 30 }, "only the canaries have generation 2");
    const members = new Map<string, string>();
    const listMembers = async () => {
      for (let page: string | undefined = withApi(`${assignmentPath(NAME, RG)}/whatIf`); page !== undefined; ) {
        const res = await arm()(page, { method: "POST" });
        for (const r of res.json.value as Array<{ clusterId: string; stage: string }>) members.set(keyOf(r.clusterId), r.stage);
        page = res.json.nextLink;
      }
    };
    await listMembers();
    const stageOf = (a: FleetAgent) => members.get(keyOf(a.clusterId));
    t.equal(members.size, CLUSTERS, "whatIf of the stored generation lists every cluster with its stage");

    phase("stage 1 written");
    // the canaries' agents apply it: the gate is met, the stage bakes; the next stage stays closed meanwhile
    await agentRound(canaryAgents);
    await settle(server);
    rollout = (await get()).rollout;
    t.match(rollout.stages[0], { state: "Baking", installed: 30, failed: 0 }, "gate met: baking");
    t.match(rollout.stages[1], { state: "NotStarted" });
    // clusters joining meanwhile get what their stage has now
    const lateCanary = await register("late-canary", "canary");
    const lateBroad = await register("late-broad", "broad");
    await settle(server);
    const afterJoin = await configurations();
    t.equal(afterJoin.get("late-canary")?.spec.operatorParams, "--git-readonly --git-branch=v2", "a canary joining during the bake gets generation 2");
    t.equal(afterJoin.get("late-broad")?.spec.operatorParams, "--git-readonly --git-branch=v1", "a later stage's cluster joining gets generation 1");
    await listMembers(); // the joiners' stages: by the frozen rules (the late canary by its tag, the other by its place in the stable order)
    t.equal(stageOf(lateCanary), "canary");
    t.not(stageOf(lateBroad), "canary");
    // until the new canary's agent reports, the gate (100 %) is not met: the bake starts again once it is
    t.match((await get()).rollout.stages[0], { state: "Waiting", clustersTotal: 31, installed: 30 }, "a canary that has not reported un-meets the gate");
    await agentRound([lateCanary, lateBroad]);
    await settle(server);
    t.match((await get()).rollout.stages[0], { state: "Baking", clustersTotal: 31, installed: 31 });
    // still baking however long all this took; then the bake time passes
    t.match((await get()).rollout.stages[0], { state: "Baking" }, "still baking");
    clock.advance(BAKE_SECONDS * 1000 + 100);

    phase("baked");
    // the bake passes, "early" opens; its agents are told to fail
    const early = agents.filter((a) => stageOf(a) === "early");
    const broad = agents.filter((a) => stageOf(a) === "broad");
    t.equal(early.length + broad.length, 271, `${early.length} in the second stage, ${broad.length} in the third`);
    for (const a of early.slice(0, 12)) a.fail = true;
    await settle(server);
    rollout = (await get()).rollout;
    t.match(rollout.stages[0], { state: "Passed", passedAt: String }, "the canaries passed after their bake time");
    t.ok(Date.parse(rollout.stages[0].passedAt) - Date.parse(rollout.stages[0].gateMetAt) >= BAKE_SECONDS * 1000, "not before the bake time");
    t.match(rollout.stages[1], { state: "Waiting" });
    await agentRound(early);
    await settle(server);
    const halted = await get();
    t.match(halted, { provisioningState: "Failed", rollout: { status: "Halted", haltedReason: "Gate", currentStage: "early" } }, "the gate failed: halted");
    t.match(halted.rollout.stages[1], { name: "early", state: "Failed", failed: 12, installed: early.length - 12, clustersTotal: early.length, message: new RegExp(`12 of ${early.length} .* Failed; the gate allows 5`) });
    t.equal(halted.rollout.stages[1].failingClusters.length, 10, "failing clusters: bounded to 10");
    t.match(halted.rollout.stages[1].failingClusters[0], { clusterId: String, message: /helm upgrade failed on c\d+: CrashLoopBackOff/ });
    t.match(halted.rollout.stages[2], { state: "NotStarted" });
    const atHalt = await configurations();
    t.ok(broad.every((a) => atHalt.get(a.name)?.spec.operatorParams === "--git-readonly --git-branch=v1"), "the third stage never changed");
    t.ok(broad.every((a) => atHalt.get(a.name)?.generation === 1), "its configurations were not even rewritten (generation 1)");
    await settle(server);
    t.match((await get()).rollout, { status: "Halted" }, "halted stays halted");

    phase("halted");
    // the agents are fixed; resume: the stage is judged again and passes; the third stage opens and the
    // service crashes while writing it (at its 30th written cluster, in its second or third batch: that batch's group committed, its progress not recorded)
    for (const a of early) a.fail = false;
    await agentRound(early);
    const resume = await arm()(withApi(`${assignmentPath(NAME, RG)}/resume`), { method: "POST" });
    t.equal(resume.status, 202);
    let applied = 0;
    server.reconcilerHooks.afterApply = () => {
      if (++applied === 30) throw new Error("simulated crash");
    };
    const crashed = await (async () => {
      for (;;) await server.reconciler.runOnce();
    })().catch((err: Error) => err.message);
    t.equal(crashed, "simulated crash");
    const midway = (await get()).rollout;
    t.match(midway, { status: "InProgress", currentStage: "broad" });
    t.ok(midway.clustersProcessed > 0 && midway.clustersProcessed < CLUSTERS && midway.clustersProcessed % 50 === 0, `crashed in the third stage's walk, ${midway.clustersProcessed} recorded (whole batches)`);
    t.match(midway.stages[1], { state: "Passed", failed: 0 });
    phase("crashed");
    await server.close();
    closed = true;
    server = await replica(backend, await backend.open(), "replica-b", clock);
    closed = false;
    await new Promise((r) => setTimeout(r, LEASE_MS + 100));
    await settle(server);
    await agentRound(broad);
    await settle(server);
    const completed = await get();
    t.match(completed, { provisioningState: "Succeeded", rollout: { status: "Completed", generation: 2, stages: [{ state: "Passed" }, { state: "Passed" }, { state: "Passed", installed: broad.length }] } });
    const here = (location: unknown) => { const u = new URL(String(location)); return `${u.pathname}${u.search}`; }; // the replica that answers now
    t.equal((await arm()(here(resume.headers.location))).status, 200, "the resume's Location: done");
    const written = await configurations();
    t.same(await byParams(), { "--git-readonly --git-branch=v2": CLUSTERS + 2 }, "generation 2 everywhere");
    const generations: Record<string, number> = {};
    for (const [name, c] of written) if (name !== lateCanary.name) generations[c?.generation ?? 0] = (generations[c?.generation ?? 0] ?? 0) + 1;
    t.same(generations, { 2: CLUSTERS + 1 }, "every configuration written once for generation 1 and once for generation 2, the crash notwithstanding");
    t.equal(written.get("late-canary")?.generation, 1, "the late canary: written once, with generation 2");
    t.ok(agents.every((a) => a.running === "--git-readonly --git-branch=v2"), "every agent runs generation 2");

    phase("generation 2 completed");
    // a bad generation 3 reaches the canaries; rollback restores generation 2 there, nowhere else
    t.equal((await arm()(url, { method: "PUT", body: assignmentBody({ rolloutPolicy: policy }, v("v3-bad")) })).status, 200);
    await settle(server);
    t.same(await byParams(), { "--git-readonly --git-branch=v2": 271, "--git-readonly --git-branch=v3-bad": 31 }, "generation 3 on the 31 canaries only");
    const rollback = await arm()(withApi(`${assignmentPath(NAME, RG)}/rollback`), { method: "POST" });
    t.equal(rollback.status, 202);
    await settle(server);
    t.equal((await arm()(String(rollback.headers.location))).status, 200, "the rollback's Location: done");
    const rolledBack = await get();
    t.match(rolledBack, { provisioningState: "Succeeded", configuration: v("v2"), rollout: { status: "Completed", generation: 4, rolledBackFrom: 3 } });
    t.same(rolledBack.rolloutPolicy.stages.map((s: { name: string }) => s.name), ["canary", "early", "broad"], "the policy stays");
    const after = await configurations();
    t.same(await byParams(), { "--git-readonly --git-branch=v2": CLUSTERS + 2 }, "generation 2's configuration everywhere again");
    const canaries = agents.filter((a) => stageOf(a) === "canary" || a === lateCanary);
    t.ok(canaries.every((a) => after.get(a.name)?.generation === (a === lateCanary ? 3 : 4)), "the canaries: written for generation 3, and back for the rollback");
    t.ok(agents.filter((a) => !canaries.includes(a)).every((a) => after.get(a.name)?.generation === 2), "the others: untouched by generation 3 and by the rollback");
    await agentRound(canaries); // the others had nothing new
    t.ok(agents.every((a) => a.running === "--git-readonly --git-branch=v2"), "every agent runs generation 2's configuration");
  });
}
