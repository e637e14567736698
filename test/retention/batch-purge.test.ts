/**
 * The sweeper purges in batches (docs/design/retention.md), on both store adapters, through the
 * service as it runs (sealing on, ARM PUTs):
 * - one commit carries many documents: each secrets document's key is shredded in the same commit as
 *   the document (the store's `commit` calls are recorded), far fewer commits than documents, none
 *   over MAX_COMMIT_OPS, nothing deleted one at a time; afterwards neither the secrets nor their keys
 *   remain in the raw store;
 * - a configuration PUT again while the sweep runs (its commit lands between the sweep's read and the
 *   sweep's commit) keeps its new secrets and their key, and the other documents of the batch are
 *   purged all the same (the lost race falls back to one document at a time).
 */
import path from "node:path";
import { compactDecrypt } from "jose";
import t, { type Test } from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { MAX_COMMIT_OPS, type Store, type WriteOp } from "../../src/store/port.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { cosmosItems, readSqliteFiles } from "../helpers/raw-store.js";
import { b64, clusterBody, clusterPath, configurationBody, configurationPath, SUB } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const WINDOW_MS = 60_000;
const P = SUB.toLowerCase();

let cosmos: CosmosTestServer;
t.before(async () => {
  cosmos = await startCosmos();
});
t.teardown(() => cosmos.close());

interface Ctx {
  server: TestServer;
  clock: ManualClock;
  arm: ReturnType<typeof client>;
  agent: TestAgent;
  /** every commit the store was asked for, its writes as given */
  commits: WriteOp[][];
  put(cluster: string, name: string, user: string): Promise<void>;
  rawText(): Promise<string>;
}

async function setup(t: Test, engine: "sqlite" | "cosmos"): Promise<Ctx> {
  const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
  let store: Store | undefined;
  let db = "";
  if (engine === "cosmos") {
    db = `batch-${Math.random().toString(36).slice(2)}`;
    const s = await openCosmosStore(cosmos, clock, undefined, db);
    await s.migrate();
    store = s;
  }
  const server = await startServer({ clock, store, retention: { secretsRetentionMs: WINDOW_MS } });
  t.teardown(() => server.close());
  const arm = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  const commits: WriteOp[][] = [];
  const inner = server.store.inner;
  const realCommit = inner.commit.bind(inner);
  inner.commit = async (ops) => {
    commits.push(ops);
    return realCommit(ops);
  };
  return {
    server,
    clock,
    arm,
    agent,
    commits,
    async put(cluster, name, user) {
      if ((await arm(`${clusterPath(cluster)}?${CV}`)).status === 404) {
        const res = await arm(`${clusterPath(cluster)}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
        if (res.status !== 201) throw new Error(res.text);
      }
      const res = await arm(`${configurationPath(cluster, name)}?${V}`, {
        method: "PUT",
        body: configurationBody({ repositoryUrl: "https://git.example/fleet.git", configurationProtectedSettings: { httpsUser: b64(user), httpsKey: b64(`${user}-token`) } }),
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(res.text);
    },
    async rawText() {
      if (engine === "cosmos") return JSON.stringify(await cosmosItems(cosmos, db));
      return readSqliteFiles(server.dataDir).map((f) => f.bytes.toString("latin1")).join("\n");
    },
  };
}

/** the secrets documents of the subscription as stored now, with their key ids */
async function secretsOf(c: Ctx): Promise<{ key: string; dek: string; ct: string }[]> {
  const { items } = await c.server.store.inner.list({ kind: "configurationSecrets", partition: P }, { limit: 1000 });
  return items.map((d) => ({ key: d.key, dek: String(d.body.dek), ct: String(d.body.ct) }));
}

const purgesIn = (ops: WriteOp[]) => ops.filter((op) => op.op === "delete" && op.kind === "configurationSecrets");

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(`${engine}: a batch purge shreds the keys in the same commit as their secrets`, async (t) => {
    const c = await setup(t, engine);
    const N = 40;
    for (let i = 0; i < N; i++) await c.put(i % 2 ? "odd" : "even", `b${i}`, `batch-user-${engine}-${i}`);
    const before = await secretsOf(c);
    t.equal(before.length, N, "forty secrets documents, each with a key of its own");
    t.equal(new Set(before.map((s) => s.dek)).size, N);

    c.clock.advance(WINDOW_MS + 1000);
    c.commits.length = 0;
    const deletesBefore = c.server.store.calls.get("delete") ?? 0;
    const report = await c.server.sweeper.runOnce();
    t.equal(report.purged, N, "every expired document purged");

    const purging = c.commits.filter((ops) => purgesIn(ops).length > 0);
    t.ok(purging.length >= 1 && purging.length <= 3, `a few commits for ${N} documents (${purging.length})`);
    t.equal(purging.reduce((n, ops) => n + purgesIn(ops).length, 0), N, "each document deleted in one of them, once");
    t.ok(purging.every((ops) => ops.length <= MAX_COMMIT_OPS), "none over the batch limit");
    t.ok(purging.every((ops) => new Set(ops.map((op) => ("doc" in op ? op.doc.partition : op.partition))).size === 1), "each commit in one partition");
    for (const ops of purging) {
      const shredded = new Set(ops.flatMap((op) => (op.op === "delete" && op.kind === "secretKey" ? [op.key] : [])));
      const sealedBy = new Map(before.map((s) => [s.key, s.dek]));
      t.ok(purgesIn(ops).every((op) => op.op === "delete" && op.ifMatch !== undefined && shredded.has(String(sealedBy.get(op.key)))), "every purged document's key is shredded in the same commit, the document deleted by etag");
      const markers = ops.filter((op) => op.op === "increment");
      t.ok(markers.length <= 2 && new Set(markers.map((op) => ("doc" in op ? op.doc.key : ""))).size === markers.length, "one marker increment per cluster per commit");
    }
    t.equal((c.server.store.calls.get("delete") ?? 0) - deletesBefore, 0, "nothing deleted one document at a time");

    const raw = await c.rawText();
    t.notOk(before.some((s) => raw.includes(s.dek)), "no key left in the raw store");
    t.notOk(before.some((s) => raw.includes(s.ct.slice(0, 40))), "no ciphertext left");
    t.notOk(raw.includes(`batch-user-${engine}`), "no value");
    t.same((await c.server.store.inner.scan({ kind: "configurationSecrets", expired: true }, { limit: 10 })).items, [], "no expired secrets document left");
    t.same((await c.server.store.inner.scan({ kind: "secretKey", expired: true }, { limit: 10 })).items, [], "no expired key left");
    const audits = c.server.logs.filter((l) => l.includes('"audit":"protectedSettingsPurged"'));
    t.equal(audits.length, N, "one audit line per purged document");
    const failed = await c.arm(`${configurationPath("odd", "b1")}?${V}`);
    t.equal(failed.json.properties.complianceStatus.complianceState, "Failed", "an undelivered configuration is marked Failed in the same commit");
    t.equal((await c.server.sweeper.runOnce()).purged, 0, "a second sweep has nothing to do");
  });

  t.test(`${engine}: a configuration PUT again during the sweep keeps its new secrets`, async (t) => {
    const c = await setup(t, engine);
    for (let i = 0; i < 6; i++) await c.put("race", `r${i}`, `old-${i}`);
    c.clock.advance(WINDOW_MS + 1000);
    const [first] = (await c.server.store.inner.scan({ kind: "configurationSecrets", expired: true }, { limit: 1 })).items;
    if (!first) throw new Error("nothing expired");
    const name = first.key.split("/").pop() as string;
    const oldDek = String(first.body.dek);

    // the PUT lands after the sweep read the page and before its commit: the race the etags settle
    const inner = c.server.store.inner;
    const recording = inner.commit.bind(inner);
    let raced = false;
    inner.commit = async (ops) => {
      if (!raced && purgesIn(ops).length > 1) {
        raced = true;
        await c.put("race", name, "fresh-user");
      }
      return recording(ops);
    };
    const report = await c.server.sweeper.runOnce();
    t.ok(raced, "the PUT ran inside the sweep");
    t.equal(report.purged, 5, "the other five purged");

    const kept = await inner.get("configurationSecrets", first.key, P);
    t.ok(kept, "the re-PUT's secrets are kept");
    t.not(String(kept?.body.dek), oldDek, "under a new key");
    t.ok(await inner.get("secretKey", String(kept?.body.dek), P), "whose key is kept");
    t.notOk(await inner.get("secretKey", oldDek, P), "the replaced secrets' key is shredded");
    t.equal((await secretsOf(c)).length, 1, "nothing else left");
    const got = await c.arm(`${configurationPath("race", name)}?${V}`);
    t.equal(got.json.properties.complianceStatus.complianceState, "Pending", "not marked Failed: its secrets are fresh");

    const token = await c.agent.token(clusterPath("race"), { iat: Math.floor(c.clock.now() / 1000) });
    const polled = await client(c.server.url, c.server.ca)(`/agent/v1${clusterPath("race")}/configurations`, { token });
    const sealed = polled.json.configurations.find((x: { name: string }) => x.name === name)?.protectedSettings;
    t.ok(sealed, "the agent can fetch them");
    const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(sealed, c.agent.privateKey)).plaintext));
    t.equal(Buffer.from(opened.protectedSettings.httpsUser, "base64").toString(), "fresh-user", "the new values");
    const audits = c.server.logs.filter((l) => l.includes('"audit":"protectedSettingsPurged"'));
    t.equal(audits.length, 5, "five audit lines");
    t.notOk(audits.some((l) => l.includes(first.key)), "none for the re-PUT configuration");
  });
}

t.test("sqlite: the expired scan comes oldest expiry first from its index, and pages without skipping or repeating", async (t) => {
  const { SqliteStore } = await import("../../src/store/sqlite/sqlite-store.js");
  const { tempDir } = await import("../helpers/server.js");
  const clock = new ManualClock(1_000_000);
  const store = new SqliteStore(path.join(tempDir("expiry-scan-"), "store.db"), clock);
  t.teardown(() => store.close());
  await store.migrate();
  // keys in the opposite order of their expiry, two sharing one expiry
  const expiries = [500, 400, 300, 300, 200, 100];
  for (const [i, expiresAt] of expiries.entries()) {
    await store.create({ kind: "configurationSecrets", key: `/k${i}`, partition: P, parent: "", schemaVersion: 1, expiresAt: clock.now() + expiresAt, body: {} });
  }
  await store.create({ kind: "configurationSecrets", key: "/live", partition: P, parent: "", schemaVersion: 1, expiresAt: clock.now() + 10_000, body: {} });
  clock.advance(1000);
  const seen: string[] = [];
  let continuation: string | undefined;
  do {
    const page = await store.scan({ kind: "configurationSecrets", expired: true }, { limit: 2, ...(continuation ? { continuation } : {}) });
    seen.push(...page.items.map((d) => d.key));
    continuation = page.continuation;
  } while (continuation);
  t.same(seen, ["/k5", "/k4", "/k2", "/k3", "/k1", "/k0"], "oldest first, then by key; each once; the live one left out");
  const plan = store.connection
    .prepare("EXPLAIN QUERY PLAN SELECT * FROM documents WHERE kind = ? AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, key LIMIT 10")
    .all("configurationSecrets", 0) as { detail: string }[];
  t.match(plan.map((r) => r.detail).join("; "), /USING INDEX documents_kind_expiry/, "served by the (kind, expires_at, key) index");
  t.notMatch(plan.map((r) => r.detail).join("; "), /TEMP B-TREE/, "without a sort");
});
