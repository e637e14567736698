/**
 * An assignment switched from Flux v1 to Flux v2 (issue #16, "Assignments") over 50 clusters with a two-stage
 * policy, on SQLite and on Cosmos DB, with agents polling the real agent API with their own keys (long
 * before, during and after the switch) and reporting per generation (v1 status Installed; v2
 * Agent_ReportFluxStatus Compliant; the v1 tombstone removed):
 * - whatIf of the switch: Migrate on every cluster, the stages' sizes;
 * - stage 1 (10 canaries, by tag) switches, each cluster in ONE desired-state version: the version after the
 *   last Flux v1 one holds the v1 tombstone and the fluxConfiguration; no response any agent received ever
 *   held both kinds live, or neither;
 * - stage 2 keeps Flux v1 (its configurations not even rewritten, its agents' versions unchanged) until the
 *   canaries' agents report the fluxConfiguration Compliant, then switches the same way;
 * - the summary and the compliance results read the fluxConfigurations: 50 Compliant;
 * - a cluster registered afterwards gets the fluxConfiguration directly (never a Flux v1 configuration);
 * - rollback to the Flux v1 generation (supported, symmetric): one version per cluster back to Flux v1.
 */
import t from "tap";
import { AgentClient } from "../../src/agent/client.js";
import type { DesiredState } from "../../src/contract/agent-api.js";
import { clusterRef, configurationId, fluxConfigurationId, keyOf } from "../../src/arm/resource-ids.js";
import { Persistence } from "../../src/persistence/index.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, SUB } from "../helpers/fixtures.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { assignmentBody, assignmentPath, CLUSTER_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";
import { cosmosBackend, sqliteBackend } from "../helpers/store-backends.js";

const CLUSTERS = 50;
const CANARIES = 10;
const RG = "rg-flux-switch";
const NAME = "fleet";

/** what one response held of the assignment's configuration */
interface Seen {
  version: number;
  v1: "live" | "tombstone" | "absent";
  v2: "live" | "tombstone" | "absent";
}

const kindOf = (items: Array<{ name: string; deleted: boolean }> | undefined, name: string): Seen["v1"] => {
  const found = (items ?? []).find((c) => c.name === name);
  return found === undefined ? "absent" : found.deleted ? "tombstone" : "live";
};

/** a cluster's agent: polls with its own key (one poll at a time), reports what it applied */
class FleetAgent {
  readonly seen: Seen[] = [];
  state?: DesiredState;
  private etag?: string;
  private api?: AgentClient;
  private chain: Promise<unknown> = Promise.resolve();
  private reported = new Set<string>();
  constructor(
    readonly clusterId: string,
    readonly name: string,
    private readonly key: TestAgent,
  ) {}

  private client(server: TestServer): AgentClient {
    this.api ??= new AgentClient({ serviceUrl: server.url, clusterId: this.clusterId, privateKey: this.key.privateKey, ca: server.ca });
    return this.api;
  }

  /** one poll (serialized with any other of this agent); returns the version it holds */
  poll(server: TestServer): Promise<number> {
    const next = this.chain.then(async () => {
      const polled = await this.client(server).poll(this.etag ? { etag: this.etag } : {});
      if (polled.status === 200) {
        this.etag = polled.etag;
        this.state = polled.state;
        this.seen.push({ version: polled.state.generation, v1: kindOf(polled.state.configurations, "baseline"), v2: kindOf(polled.state.fluxConfigurations, "baseline") });
      }
      return this.state?.generation ?? 0;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  get version(): number {
    return this.state?.generation ?? 0;
  }

  /** polls, then reports what it holds: the v1 configuration Installed, its tombstone removed, the fluxConfiguration Compliant */
  async round(server: TestServer): Promise<void> {
    await this.poll(server);
    const api = this.client(server);
    for (const c of this.state?.configurations ?? []) {
      const key = `v1:${c.name}:${c.generation}`;
      if (this.reported.has(key)) continue;
      const answer = c.deleted
        ? await api.reportStatus(c.name, { observedGeneration: c.generation, complianceState: "Installed", removed: true })
        : await api.reportStatus(c.name, { observedGeneration: c.generation, complianceState: "Installed", message: "applied", messageLevel: "Information" });
      if (answer.accepted) this.reported.add(key);
    }
    for (const f of this.state?.fluxConfigurations ?? []) {
      const key = `v2:${f.name}:${f.generation}`;
      if (this.reported.has(key)) continue;
      const answer = f.deleted
        ? await api.reportFluxStatus(f.name, { observedGeneration: f.generation, complianceState: "Compliant", removed: true })
        : await api.reportFluxStatus(f.name, {
            observedGeneration: f.generation,
            complianceState: "Compliant",
            sourceSyncedCommitId: "main@sha1:0123456789abcdef0123456789abcdef01234567",
            statuses: Object.keys(f.properties.kustomizations).map((k) => ({ name: `${f.name}-${k}`, namespace: f.properties.namespace, kind: "Kustomization", complianceState: "Compliant" as const })),
          });
      if (answer.accepted) this.reported.add(key);
    }
  }

  close(): void {
    this.api?.close();
  }
}

async function inParallel<T>(items: T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await each(item);
  }));
}

const fluxBody = (overrides: Record<string, unknown> = {}) => ({
  properties: {
    configurationName: "baseline",
    fluxConfiguration: {
      scope: "cluster",
      namespace: "flux-baseline",
      gitRepository: { url: "https://github.com/example/fleet-baseline.git", repositoryRef: { branch: "main" }, syncIntervalInSeconds: 300 },
      kustomizations: { infra: { path: "./infrastructure", prune: true }, apps: { path: "./apps", dependsOn: ["infra"] } },
    },
    ...overrides,
  },
});

const policy = {
  stages: [
    { name: "canary", clusterSelector: { tags: { ring: "canary" } }, gates: { minInstalledPercentage: 100, progressDeadline: "PT10M" } },
    { name: "rest", gates: { minInstalledPercentage: 100, progressDeadline: "PT10M" } },
  ],
};

for (const make of [sqliteBackend, cosmosBackend]) {
  t.test(`a Flux v1 assignment switched to Flux v2 over ${CLUSTERS} clusters in two stages, on ${make.name.replace("Backend", "")}`, async (t) => {
    const backend = await make();
    t.teardown(() => backend.close());
    const server = await startServer({ store: await backend.open(), assignments: { batchSize: 20, gateIntervalMs: 0, complianceIntervalMs: 0 } });
    const agents: FleetAgent[] = [];
    t.teardown(async () => {
      for (const a of agents) a.close();
      await server.close();
    });
    const arm = client(server.url, server.ca, server.token);
    const url = withApi(assignmentPath(NAME, RG));
    const get = async () => (await arm(url)).json.properties;
    const repo = new Persistence(server.store, server.codec);

    // the fleet: 10 canaries (ring=canary), 40 others; one through the API, the others seeded from its record
    const register = async (name: string, ring: string): Promise<FleetAgent> => {
      const key = testAgent();
      const res = await arm(withApi(clusterPath(name, SUB, RG), CLUSTER_API), { method: "PUT", body: { ...clusterBody(key.publicKeyB64), tags: { ring } } });
      if (res.status !== 201) throw new Error(res.text);
      const agent = new FleetAgent(res.json.id, name, key);
      agents.push(agent);
      return agent;
    };
    const first = await register("c00", "canary");
    const template = (await repo.clusters.get(SUB, first.clusterId as never))?.record;
    if (!template) throw new Error("the first cluster");
    const seeded = Array.from({ length: CLUSTERS - 1 }, (_, j) => {
      const i = j + 1;
      const name = `c${String(i).padStart(2, "0")}`;
      const key = testAgent();
      const id = clusterRef(SUB, RG, name).id;
      agents.push(new FleetAgent(id, name, key));
      return { ...template, id, name, tags: { ring: i < CANARIES ? "canary" : "broad" }, properties: { ...template.properties, agentPublicKeyCertificate: key.publicKeyB64 } };
    });
    await repo.atomically(async () => {
      for (const record of seeded) await repo.clusters.write(record, undefined);
    });
    const canaries = agents.filter((a) => Number(a.name.slice(1)) < CANARIES);
    const rest = agents.filter((a) => !canaries.includes(a));
    const round = (which: FleetAgent[] = agents) => inParallel(which, 8, (a) => a.round(server));
    const v1Of = async (a: FleetAgent) => repo.configurations.get(SUB, configurationId(a.clusterId as never, "baseline"));
    const v2Of = async (a: FleetAgent) => repo.fluxConfigurations.get(SUB, fluxConfigurationId(a.clusterId as never, "baseline"));

    // generation 1: Flux v1 everywhere, applied
    t.equal((await arm(url, { method: "PUT", body: assignmentBody({}, { operatorParams: "--git-readonly --git-branch=main" }) })).status, 201);
    await settle(server);
    await round();
    await settle(server);
    t.ok(agents.every((a) => a.seen.at(-1)?.v1 === "live" && a.seen.at(-1)?.v2 === "absent"), "every agent runs the Flux v1 configuration");
    const before = new Map(agents.map((a) => [a.name, a.version]));

    // whatIf of the switch: Migrate everywhere, the stages' sizes, nothing changed
    const what = await arm(withApi(`${assignmentPath(NAME, RG)}/whatIf`), { method: "POST", body: fluxBody({ rolloutPolicy: policy }) });
    t.equal(what.status, 200);
    t.same(what.json.stages, [{ name: "canary", clusters: CANARIES }, { name: "rest", clusters: CLUSTERS - CANARIES }]);
    const whatItems: Array<{ change: string; stage: string }> = [...what.json.value];
    for (let next = what.json.nextLink; next; ) {
      const page = await arm(next, { method: "POST", body: fluxBody({ rolloutPolicy: policy }) });
      whatItems.push(...page.json.value);
      next = page.json.nextLink;
    }
    t.equal(whatItems.length, CLUSTERS);
    t.ok(whatItems.every((i) => i.change === "Migrate"), "whatIf: Migrate on every cluster");
    t.equal((await v1Of(first))?.record.generation, 1, "whatIf changed nothing");

    // the agents keep polling throughout the switch
    let polling = true;
    const background = (async () => {
      while (polling) await inParallel([...agents], 8, async (a) => void (await a.poll(server)));
    })();

    // generation 2: Flux v2, staged; stage 1 switches
    const switched = await arm(url, { method: "PUT", body: fluxBody({ rolloutPolicy: policy }) });
    t.equal(switched.status, 200, switched.text);
    t.equal(switched.json.properties.rollout.generation, 2, "a new generation");
    await settle(server);
    t.match((await get()).rollout, { status: "InProgress", generation: 2, currentStage: "canary", stages: [{ name: "canary", state: "Waiting", clustersTotal: CANARIES, applied: CANARIES, installed: 0 }, { name: "rest", state: "NotStarted" }] });
    for (const a of canaries) {
      t.equal((await v1Of(a))?.deleted, true, `${a.name}: the Flux v1 configuration retired`);
      t.match((await v2Of(a))?.record, { generation: 1, managedBy: new RegExp(`${NAME}$`) }, `${a.name}: the fluxConfiguration, written once`);
    }
    for (const a of rest) {
      const v1 = await v1Of(a);
      t.ok(v1 && !v1.deleted && v1.record.generation === 1 && (await v2Of(a)) === undefined, `${a.name}: stage 2 keeps Flux v1, not even rewritten`);
    }
    const results = async () => {
      const out = new Map<string, { complianceState: string; message: string; configurationId?: string }>();
      for (let next: string | undefined = withApi(`${assignmentPath(NAME, RG)}/complianceResults`); next; ) {
        const page = await arm(next);
        for (const r of page.json.value) out.set(keyOf(r.clusterId), r);
        next = page.json.nextLink;
      }
      return out;
    };
    const midway = await results();
    t.match(midway.get(keyOf(rest[0]?.clusterId ?? "")), { complianceState: "Pending", message: /still runs the assignment's Flux v1 configuration 'baseline'; it is migrated to the fluxConfiguration 'baseline' in one poll/ });
    t.match(midway.get(keyOf(first.clusterId)), { complianceState: "Pending", configurationId: /fluxConfigurations\/baseline$/ });

    // the canaries' agents apply Flux v2 and report it Compliant (and the v1 tombstone removed): the gate is met, stage 2 opens and switches
    await round(canaries);
    for (const a of rest) t.equal(a.version, before.get(a.name), `${a.name}: no new desired-state version while its stage is closed`);
    await settle(server);
    t.match((await get()).rollout, { status: "InProgress", currentStage: "rest", stages: [{ state: "Passed", installed: CANARIES }, { state: "Waiting", applied: CLUSTERS - CANARIES }] });
    await round();
    await settle(server);
    polling = false;
    await background;
    await round();
    await settle(server);
    // the summary is refreshed at an interval, never more than a tenth of the reconciler's time: on a loaded
    // machine the last pass may skip it, so it is recomputed now, as an operator can
    await server.reconciler.refreshAllSummaries();
    const done = await get();
    t.match(done, { provisioningState: "Succeeded", rollout: { status: "Completed", generation: 2, stages: [{ state: "Passed" }, { state: "Passed", installed: CLUSTERS - CANARIES }] } });
    t.match(done.complianceSummary, { totalClusters: CLUSTERS, compliant: CLUSTERS, pending: 0, nonCompliant: 0, failed: 0 }, "the summary reads the fluxConfigurations");
    const final = await results();
    t.equal(final.size, CLUSTERS);
    t.ok([...final.values()].every((r) => r.complianceState === "Compliant" && /\/fluxConfigurations\/baseline$/.test(r.configurationId ?? "")), "every cluster Compliant, on its fluxConfiguration");

    // what the agents saw: never both kinds live, never neither; the switch in one version, right after the last Flux v1 one
    let responses = 0;
    for (const a of agents) {
      responses += a.seen.length;
      const bad = a.seen.find((s) => (s.v1 === "live") === (s.v2 === "live"));
      t.notOk(bad, `${a.name}: every response held exactly one kind live`, { seen: a.seen });
      const firstV2 = a.seen.find((s) => s.v2 === "live");
      t.match(firstV2, { version: (before.get(a.name) ?? 0) + 1, v1: "tombstone", v2: "live" }, `${a.name}: version ${(before.get(a.name) ?? 0) + 1} (the one after its last Flux v1 version) removes v1 and applies v2`);
      const versions = new Map<number, string>();
      for (const s of a.seen) {
        const kind = `${s.v1}/${s.v2}`;
        if (versions.has(s.version) && versions.get(s.version) !== kind) t.fail(`${a.name}: version ${s.version} seen with two contents`);
        versions.set(s.version, kind);
      }
    }
    t.comment(`${responses} desired-state responses recorded`);
    t.ok((await Promise.all(agents.map(v1Of))).every((v) => v === undefined), "the v1 tombstones went once the agents reported them removed");

    // a cluster registered later gets Flux v2 directly
    const late = await register("late", "broad");
    await settle(server);
    t.equal((await v1Of(late)) === undefined && (await v2Of(late))?.record.generation, 1, "the late cluster: a fluxConfiguration, no Flux v1 configuration");
    await late.round(server);
    t.match(late.seen, [{ v1: "absent", v2: "live" }], "its first poll: Flux v2 only");

    // rollback to the Flux v1 generation: supported, symmetric (not staged: everywhere at once), one version per cluster
    const versionsBefore = new Map(agents.map((a) => [a.name, a.version]));
    const rollback = await arm(withApi(`${assignmentPath(NAME, RG)}/rollback`), { method: "POST", body: {} });
    t.equal(rollback.status, 202);
    await settle(server);
    t.match((await get()), { configuration: { operatorParams: "--git-readonly --git-branch=main" }, rollout: { status: "Completed", generation: 3, rolledBackFrom: 2 } });
    await inParallel([...agents], 8, async (a) => void (await a.poll(server)));
    for (const a of agents) t.match(a.seen.at(-1), { version: (versionsBefore.get(a.name) ?? 0) + 1, v1: "live", v2: "tombstone" }, `${a.name}: back to Flux v1 in one version`);
  });
}
