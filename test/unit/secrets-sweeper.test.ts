/**
 * The retention arithmetic of the 48-hour sweeper (src/jobs/secrets-sweeper.ts) on a manual clock:
 * secrets expire exactly `secretsRetentionMs` after the PUT that submitted them, a resubmission starts
 * the window again, one sweep drains a backlog larger than its batch, and a configuration whose
 * secrets expired before its cluster acknowledged them is marked Failed. Real SQLite file, plain codec.
 */
import t, { type Test } from "tap";
import path from "node:path";
import { ChangeBus } from "../../src/domain/changes.js";
import { expiredBeforeDelivery } from "../../src/domain/configurations.js";
import { Persistence } from "../../src/persistence/index.js";
import type { ConfigurationRecord } from "../../src/domain/types.js";
import { SecretsSweeper } from "../../src/jobs/secrets-sweeper.js";
import { ManualClock } from "../../src/ports/clock.js";
import { clusterId as clusterIdOf, configurationId } from "../../src/arm/resource-ids.js";
import { createStore } from "../../src/store/factory.js";
import { tempDir } from "../helpers/server.js";

const SUB = "00000000-0000-0000-0000-00000000aaaa";
const WINDOW_MS = 48 * 3600_000;

async function setup(t: Test, batchSize = 10) {
  const clock = new ManualClock();
  const store = await createStore({ engine: "sqlite", path: path.join(tempDir("sweeper-unit-"), "store.db") }, clock, { runMigrationsAtStartup: true });
  t.teardown(() => store.close());
  const repo = new Persistence(store, undefined, { secretsRetentionMs: WINDOW_MS });
  const audits: string[] = [];
  const sweeper = new SecretsSweeper(repo, new ChangeBus(), clock, { purged: (id, _kinds, reason) => audits.push(`${reason}:${id}`) }, { intervalMs: 60_000, batchSize, holder: "unit", leaseMs: 30_000 });
  /** a configuration (generation 1) and its secrets, submitted now */
  async function submit(name: string, delivered = false): Promise<ConfigurationRecord> {
    const clusterId = clusterIdOf(SUB, "rg", "c1");
    const record: ConfigurationRecord = {
      id: configurationId(clusterId, name),
      name,
      clusterId,
      spec: { repositoryUrl: "https://github.com/example/fleet.git", operatorNamespace: "default", operatorInstanceName: name, operatorType: "Flux", operatorScope: "namespace" },
      generation: 1,
      provisioningState: "Succeeded",
      complianceStatus: { complianceState: "Pending" },
      secrets: { protectedSettingKeys: ["httpsKey"], hasKnownHosts: false },
      ...(delivered ? { secretsDelivered: { generation: 1, at: new Date(clock.now()).toISOString() } } : {}),
      systemData: {},
    };
    const previous = await repo.configurations.get(SUB, record.id);
    await repo.configurations.write(SUB, record, previous?.etag);
    await (await repo.secrets.prepare(SUB, record, { protectedSettings: { httpsKey: "c2VjcmV0" }, submittedAt: clock.now() }))();
    return record;
  }
  const stored = async (id: string) => (await store.get("configurationSecrets", id.toLowerCase(), SUB)) !== undefined;
  return { clock, repo, sweeper, audits, submit, stored };
}

t.test("secrets expire exactly secretsRetentionMs after the PUT that submitted them", async (t) => {
  const { clock, sweeper, audits, submit, stored } = await setup(t);
  const record = await submit("a");
  clock.advance(WINDOW_MS - 1);
  t.match(await sweeper.runOnce(), { ran: true, purged: 0 }, "a millisecond before: nothing to purge");
  t.ok(await stored(record.id), "still stored");
  clock.advance(1);
  t.match(await sweeper.runOnce(), { ran: true, purged: 1 }, "at the window's end: purged");
  t.notOk(await stored(record.id), "gone");
  t.same(audits, [`expired:${record.id.toLowerCase()}`], "audited once, as expired");
  t.match(await sweeper.runOnce(), { purged: 0 }, "a second sweep finds nothing");
});

t.test("a resubmission starts the window again", async (t) => {
  const { clock, sweeper, submit, stored } = await setup(t);
  const record = await submit("b");
  clock.advance(WINDOW_MS / 2);
  await submit("b");
  clock.advance(WINDOW_MS / 2);
  t.match(await sweeper.runOnce(), { purged: 0 }, "48 h after the first PUT: the second one's secrets stay");
  t.ok(await stored(record.id));
  clock.advance(WINDOW_MS / 2);
  t.match(await sweeper.runOnce(), { purged: 1 }, "48 h after the second PUT: purged");
});

t.test("one sweep drains a backlog larger than its batch", async (t) => {
  const { clock, sweeper, submit } = await setup(t, 2);
  for (const n of ["c", "d", "e", "f", "g"]) await submit(n);
  clock.advance(WINDOW_MS);
  t.match(await sweeper.runOnce(), { purged: 5 }, "five purged in batches of two");
});

t.test("secrets that expired before delivery mark their configuration Failed; delivered ones do not", async (t) => {
  const { clock, repo, sweeper, submit } = await setup(t);
  const undelivered = await submit("h");
  const delivered = await submit("i", true);
  clock.advance(WINDOW_MS);
  t.match(await sweeper.runOnce(), { purged: 2 });
  const h = await repo.configurations.get(SUB, undelivered.id);
  t.same(h?.record.complianceStatus, expiredBeforeDelivery(), "the user is told why the cluster never got them");
  t.equal(h?.record.provisioningState, "Failed");
  const i = await repo.configurations.get(SUB, delivered.id);
  t.same(i?.record.complianceStatus, { complianceState: "Pending" }, "the cluster got them: left alone");
  t.equal(i?.record.provisioningState, "Succeeded");
});
