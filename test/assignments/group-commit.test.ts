/**
 * A rollout writes a group of clusters in one durable commit (applyAssignmentMany), and keeps the
 * guards of the one-cluster path: the whole group is one commit (all or nothing); a cluster deleted
 * between the bulk read and the commit keeps nothing; another writer's change inside the group makes
 * the commit fail with nothing written, and those clusters are then applied one by one; an assignment
 * that changed before the commit writes nothing. Real store, real sealing, no mocks.
 */
import t from "tap";
import { applyAssignmentMany, type ApplyDeps } from "../../src/domain/assignment-apply.js";
import { ChangeBus } from "../../src/domain/changes.js";
import { Persistence } from "../../src/persistence/index.js";
import { keyOf, storedClusterKey } from "../../src/arm/resource-ids.js";
import type { AssignmentRecord } from "../../src/domain/types.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

let server: TestServer;
let request: ReturnType<typeof client>;
let deps: ApplyDeps;

t.before(async () => {
  server = await startServer({ assignments: { batchSize: 100, complianceIntervalMs: 0 } });
  request = client(server.url, server.ca, server.token);
  deps = { repo: new Persistence(server.store, server.codec), bus: new ChangeBus(), clock: server.clock };
});
t.teardown(() => server.close());

/** clusters of a fresh resource group, and an assignment on it (not rolled out: the reconciler is driven by hand) */
async function scope(rg: string, names: string[]): Promise<AssignmentRecord> {
  for (const name of names) {
    const res = await request(withApi(clusterPath(name, SUB, rg), CLUSTER_API), { method: "PUT", body: clusterBody() });
    if (res.status !== 201) throw new Error(res.text);
  }
  await settle(server); // the clusters' outbox items (no assignment yet)
  const put = await request(withApi(assignmentPath(`a-${rg}`, rg)), { method: "PUT", body: assignmentBody() });
  if (put.status !== 201) throw new Error(put.text);
  const found = await deps.repo.assignments.get(SUB, put.json.id as string);
  if (!found) throw new Error("assignment not stored");
  return found.record;
}

const keys = (rg: string, names: string[]) => names.map((n) => storedClusterKey(clusterPath(n, SUB, rg)));

/** the configurations stored under a cluster, tombstones included, read from the store itself */
async function stored(rg: string, name: string) {
  return (await server.store.inner.list({ kind: "configuration", partition: SUB.toLowerCase(), parent: keyOf(clusterPath(name, SUB, rg)), includeDeleted: true }, { limit: 10 })).items;
}

const commits = () => server.store.calls.get("commit") ?? 0;

t.test("a group of clusters is written in one commit, and a rerun writes nothing", async (t) => {
  const names = ["g1", "g2", "g3", "g4", "g5", "g6"];
  const a = await scope("rg-group", names);
  const before = commits();
  t.same(await applyAssignmentMany(deps, a, keys("rg-group", names)), new Array(6).fill("created"));
  t.equal(commits() - before, 1, "six configurations and their markers: one commit");
  for (const n of names) t.equal((await stored("rg-group", n)).length, 1, `${n} has its configuration`);
  const again = commits();
  t.same(await applyAssignmentMany(deps, a, keys("rg-group", names)), new Array(6).fill("unchanged"), "a rerun after a crash finds the work done");
  t.equal(commits() - again, 0, "and writes nothing");
  const get = await request(withApi(configurationPath("g4", "baseline", SUB, "rg-group"), SCC_API));
  t.equal(get.status, 200);
  t.match(get.json.managedBy, /configurationAssignments\/a-rg-group$/);
});

t.test("a group bigger than one commit holds is split", async (t) => {
  const names = Array.from({ length: 60 }, (_, i) => `s${String(i).padStart(2, "0")}`);
  const a = await scope("rg-split", names);
  const before = commits();
  const outcomes = await applyAssignmentMany(deps, a, keys("rg-split", names));
  t.same(outcomes, new Array(60).fill("created"));
  t.equal(commits() - before, 2, "120 writes: two commits of at most 100");
});

t.test("a cluster deleted between the bulk read and the commit keeps nothing", async (t) => {
  const names = ["d1", "d2", "d3"];
  const a = await scope("rg-gone", names);
  const outcomes = await applyAssignmentMany(deps, a, keys("rg-gone", names), {
    stillCurrent: async () => {
      const del = await request(withApi(clusterPath("d2", SUB, "rg-gone"), CLUSTER_API), { method: "DELETE" });
      t.equal(del.status, 200);
      return true;
    },
  });
  t.same(outcomes, ["created", "unchanged", "created"]);
  t.same(await stored("rg-gone", "d2"), [], "nothing under the deleted cluster");
  t.equal((await stored("rg-gone", "d3")).length, 1, "the rest of the group got theirs");
});

t.test("another writer inside the group: the commit fails whole, the clusters go one by one", async (t) => {
  const names = ["r1", "r2", "r3"];
  const a = await scope("rg-race", names);
  const before = commits();
  const outcomes = await applyAssignmentMany(deps, a, keys("rg-race", names), {
    stillCurrent: async () => {
      // a user's configuration of the same name lands on r2 after the bulk read
      const put = await request(withApi(configurationPath("r2", "baseline", SUB, "rg-race"), SCC_API), { method: "PUT", body: configurationBody() });
      t.equal(put.status, 201, put.text);
      return true;
    },
  });
  t.same(outcomes, [undefined, undefined, undefined], "not settled in bulk");
  t.same(await stored("rg-race", "r1"), [], "nothing of the failed commit was written");
  t.equal(commits() - before, 2, "the user's PUT and the failed group commit");
  // the reconciler applies them one by one: the clash is reported, the others are created
  await settle(server);
  t.equal((await stored("rg-race", "r1")).length, 1);
  t.equal((await stored("rg-race", "r3")).length, 1);
  const r2 = await request(withApi(configurationPath("r2", "baseline", SUB, "rg-race"), SCC_API));
  t.equal(r2.json.managedBy, undefined, "the user's configuration is left alone");
});

t.test("an assignment that changed before the commit writes nothing", async (t) => {
  const names = ["t1", "t2"];
  const a = await scope("rg-stale", names);
  const before = commits();
  t.same(await applyAssignmentMany(deps, a, keys("rg-stale", names), { stillCurrent: async () => false }), ["stale", "stale"]);
  t.equal(commits() - before, 0);
  t.same(await stored("rg-stale", "t1"), []);
});

t.test("a burst of registrations leaves the outbox drained with a commit per hundred clusters, not one each", async (t) => {
  const names = Array.from({ length: 30 }, (_, i) => `burst${i}`);
  for (const name of names) {
    const res = await request(withApi(clusterPath(name, SUB, "rg-burst"), CLUSTER_API), { method: "PUT", body: clusterBody() });
    t.equal(res.status, 201);
  }
  const pending = async () => (await server.store.inner.scan({ kind: "clusterWork" }, { limit: 1000 })).items.length;
  t.ok((await pending()) >= 30, "each registration left an outbox item");
  // the store calls that removed outbox items, whichever way they came
  const inner = server.store.inner;
  const { commit, delete: remove } = { commit: inner.commit.bind(inner), delete: inner.delete.bind(inner) };
  let retiringCalls = 0;
  inner.commit = async (ops) => {
    if (ops.some((op) => op.op === "delete" && op.kind === "clusterWork")) retiringCalls++;
    return commit(ops);
  };
  inner.delete = async (kind, key, partition, ifMatch) => {
    if (kind === "clusterWork") retiringCalls++;
    return remove(kind, key, partition, ifMatch);
  };
  t.teardown(() => Object.assign(inner, { commit, delete: remove }));
  await settle(server);
  t.equal(await pending(), 0, "every item retired");
  t.ok(retiringCalls >= 1 && retiringCalls <= 2, `retired in ${retiringCalls} store call(s), not 30`);
});
