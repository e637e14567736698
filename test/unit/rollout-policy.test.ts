/**
 * The pure rules of staged rollouts (src/domain/rollout-policy.ts): durations, reading a policy, frozen
 * membership (exact shares, joiners placed by the same rules), what a cluster of a closed stage keeps,
 * and the gate arithmetic.
 */
import t from "tap";
import { clusterId } from "../../src/arm/resource-ids.js";
import {
  allowedFailures,
  desiredView,
  durationMs,
  emptyCounts,
  freezePlan,
  judgeGate,
  parseRolloutPolicy,
  requiredInstalled,
  stageOf,
} from "../../src/domain/rollout-policy.js";
import type { AssignmentRecord, AssignmentStatus, ClusterRecord, RolloutStage } from "../../src/domain/types.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const cluster = (name: string, tags: Record<string, string> = {}): ClusterRecord => ({ id: clusterId(SUB, "rg", name), subscriptionId: SUB, resourceGroup: "rg", name, tags, properties: {} }) as unknown as ClusterRecord;

t.test("ISO 8601 durations, ARM style", async (t) => {
  t.equal(durationMs("PT0S"), 0);
  t.equal(durationMs("PT30M"), 1_800_000);
  t.equal(durationMs("P1DT12H"), 129_600_000);
  t.equal(durationMs("PT1.5S"), 1500);
  for (const bad of ["P", "PT", "1H", "P1Y", "P1M", "PT-1S", "P1W"]) t.equal(durationMs(bad), undefined, bad);
});

t.test("reading a policy: defaults filled in, every problem named", async (t) => {
  const { policy, problems } = parseRolloutPolicy({ stages: [{ name: "canary", percentage: 5 }, { name: "rest" }] }, "properties.rolloutPolicy");
  t.same(problems, []);
  t.same(policy?.stages[1], { name: "rest", bakeTime: "PT0S", gates: { minInstalledPercentage: 100, progressDeadline: "PT1H" } });
  const bad = parseRolloutPolicy(
    {
      stages: [
        { name: "a", percentage: 0 },
        { name: "A", clusterSelector: { tags: { ring: "x" } }, percentage: 5 },
        { name: "b" },
        { name: "c", bakeTime: "P1Y", gates: { maxFailures: -1, minInstalledPercentage: 101, extra: 1 } },
      ],
    },
    "p",
  );
  const targets = bad.problems.map((p) => p.target);
  t.ok(targets.includes("p.stages[0].percentage"), "percentage 0");
  t.ok(targets.includes("p.stages[1].name"), "names are unique, case-insensitively");
  t.ok(targets.includes("p.stages[1]"), "selector and percentage both");
  t.ok(targets.includes("p.stages[2]"), "a stage that selects nothing before the last");
  t.ok(targets.includes("p.stages[3].bakeTime"), "years are not a duration here");
  t.ok(targets.includes("p.stages[3].gates.maxFailures") && targets.includes("p.stages[3].gates.minInstalledPercentage") && targets.includes("p.stages[3].gates.extra"));
  t.equal(bad.policy, undefined);
  t.same(parseRolloutPolicy({ stages: [] }, "p").problems.map((p) => p.target), ["p.stages"]);
});

t.test("frozen membership: exact shares of the remaining, tag stages first come first served, joiners placed by the same rules", async (t) => {
  const { policy } = parseRolloutPolicy({ stages: [{ name: "one", percentage: 10 }, { name: "canary", clusterSelector: { tags: { ring: "canary" } } }, { name: "half", percentage: 50 }, { name: "rest" }] }, "p");
  if (!policy) throw new Error("policy");
  const id = "/subscriptions/x/providers/Microsoft.KubernetesConfiguration/configurationAssignments/a";
  const fleet = Array.from({ length: 1000 }, (_, i) => cluster(`c${i}`, i % 10 === 0 ? { ring: "canary" } : {}));
  const { plan, members } = freezePlan(policy, id, fleet);
  t.equal(members[0], 100, "10 % of 1000");
  const canaries = fleet.filter((c) => c.tags?.ring === "canary" && stageOf(policy, plan, id, c) !== 0).length;
  t.equal(members[1], canaries, "the canaries the first stage did not take");
  t.equal(members[2], Math.ceil((900 - canaries) / 2), "half of what remains, rounded up");
  t.equal(members.reduce((a, b) => a + b, 0), 1000, "every cluster in one stage");
  const counted = [0, 0, 0, 0];
  for (const c of fleet) {
    const i = stageOf(policy, plan, id, c);
    counted[i] = (counted[i] ?? 0) + 1;
  }
  t.same(counted, members, "stageOf agrees with the plan for every member");
  // stable: the same plan from the same fleet in another order; another assignment orders differently
  t.same(freezePlan(policy, id, [...fleet].reverse()).plan, plan);
  t.not(JSON.stringify(freezePlan(policy, `${id}2`, fleet).plan), JSON.stringify(plan));
  // joiners: a canary goes where its tag or hash says; the frozen members do not move
  const joiners = Array.from({ length: 200 }, (_, i) => cluster(`late${i}`));
  const joinedAt = joiners.map((c) => stageOf(policy, plan, id, c));
  t.ok(joinedAt.every((s) => s !== 1), "an untagged joiner never lands in the tag stage");
  t.ok(joinedAt.filter((s) => s === 0).length > 5 && joinedAt.filter((s) => s === 0).length < 40, "about 10 % of joiners in the first stage");
  t.same(fleet.map((c) => stageOf(policy, plan, id, c)), fleet.map((c) => stageOf(policy, plan, id, c)));
});

t.test("what a cluster gets: its stage open, the new generation; closed, the previous one (or nothing before a first completion)", async (t) => {
  const { policy } = parseRolloutPolicy({ stages: [{ name: "canary", clusterSelector: { tags: { ring: "canary" } } }, { name: "rest" }] }, "p");
  const spec = { configurationName: "b", configuration: { operatorParams: "v2" }, enforcementMode: "Default", rolloutPolicy: policy } as unknown as AssignmentRecord["spec"];
  const previous = { ...spec, configuration: { operatorParams: "v1" } } as AssignmentRecord["spec"];
  const a = { id: "/a", subscriptionId: SUB, generation: 2, spec, previous } as unknown as AssignmentRecord;
  const status: AssignmentStatus = { generation: 2, state: "InProgress", clustersProcessed: 0, clustersTotal: 2, startedAt: "", plan: [{}, {}], currentStage: 0 };
  const canary = cluster("k1", { ring: "canary" });
  const other = cluster("k2");
  t.equal(desiredView(a, status, canary), a);
  t.same(desiredView(a, status, other)?.spec.configuration, { operatorParams: "v1" });
  t.equal(desiredView(a, { ...status, currentStage: 1 }, other), a);
  t.same(desiredView(a, undefined, canary)?.spec.configuration, { operatorParams: "v1" }, "before the rollout starts: the previous generation everywhere");
  t.equal(desiredView({ ...a, previous: undefined }, status, other), undefined, "no generation completed yet: left alone");
  t.equal(desiredView({ ...a, rollbackOf: 1 }, status, other)?.spec.configuration?.operatorParams, "v2", "a rollback is not staged");
});

t.test("gate arithmetic", async (t) => {
  const gates = { minInstalledPercentage: 90, progressDeadline: "PT10M", maxFailures: 5, maxFailurePercentage: 3 };
  t.equal(requiredInstalled(gates, 135), 122, "ceil(0.9 x 135)");
  t.equal(requiredInstalled({ ...gates, minInstalledPercentage: 100 }, 30), 30);
  t.equal(requiredInstalled({ ...gates, minInstalledPercentage: 33 }, 300), 99);
  t.equal(allowedFailures(gates, 135), 4, "the smaller of 5 and floor(3 % of 135)");
  t.equal(allowedFailures({ minInstalledPercentage: 100, progressDeadline: "PT1H" }, 1000), 0, "neither given: none");
  t.equal(allowedFailures({ minInstalledPercentage: 100, progressDeadline: "PT1H", maxFailurePercentage: 10 }, 15), 1);
  const stage: RolloutStage = { name: "early", bakeTime: "PT0S", gates };
  const counts = (installed: number, failed: number) => ({ ...emptyCounts(), clustersTotal: 135, installed, failed });
  t.same(judgeGate(stage, counts(122, 4), 0, 1000), { state: "met" });
  t.match(judgeGate(stage, counts(130, 5), 0, 1000), { state: "failed", message: /5 of 135 .* Failed; the gate allows 4/ }, "too many failures fail at once, before the deadline");
  t.match(judgeGate(stage, counts(100, 0), 0, 1000), { state: "waiting" });
  t.match(judgeGate(stage, counts(100, 0), 0, 600_000), { state: "failed", message: /100 of 135 .* needs 122 within PT10M/ }, "the deadline passed short of the share");
  t.same(judgeGate(stage, { ...emptyCounts() }, 0, 0), { state: "met" }, "an empty stage passes");
});
