/**
 * The 48-hour promise, with an injected clock and a short window, on both store adapters:
 * before expiry the agent can fetch; one second after, every read path returns nothing before any
 * sweep; the sweep then leaves neither the values, nor their ciphertext, nor their key in the raw
 * store; Cosmos records carry the matching ttl; the offline-cluster story; purge after delivery;
 * two sweepers purge each record once; a sweep that dies half-way finishes on the next run.
 */
import { compactDecrypt } from "jose";
import t, { type Test } from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { EXPIRED_BEFORE_DELIVERY } from "../../src/domain/configurations.js";
import type { Store } from "../../src/store/port.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { cosmosItems, readSqliteFiles } from "../helpers/raw-store.js";
import { b64, clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, SUB } from "../helpers/fixtures.js";

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
  poll(cluster: string): Promise<{ status: number; json: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  report(cluster: string, name: string, body: unknown): Promise<{ status: number; json: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  rawText(): Promise<string>;
}

async function setup(t: Test, engine: "sqlite" | "cosmos", extra: { purgeAfterDelivery?: boolean } = {}): Promise<Ctx> {
  const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
  let store: Store | undefined;
  let db = "";
  if (engine === "cosmos") {
    db = `ret-${Math.random().toString(36).slice(2)}`;
    const s = await openCosmosStore(cosmos, clock, undefined, db);
    await s.migrate();
    store = s;
  }
  const server = await startServer({ clock, store, retention: { secretsRetentionMs: WINDOW_MS, purgeAfterDelivery: extra.purgeAfterDelivery ?? false }, agent: { stalenessMs: 60_000 } });
  t.teardown(() => server.close());
  const arm = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  const token = (cluster: string) => agent.token(clusterPath(cluster), { iat: Math.floor(clock.now() / 1000) });
  const raw = client(server.url, server.ca);
  return {
    server,
    clock,
    arm,
    agent,
    poll: async (cluster) => raw(`/agent/v1${clusterPath(cluster)}/configurations`, { token: await token(cluster) }),
    report: async (cluster, name, body) => raw(`/agent/v1${clusterPath(cluster)}/configurations/${name}/status`, { method: "POST", body, token: await token(cluster) }),
    async rawText() {
      if (engine === "cosmos") return JSON.stringify(await cosmosItems(cosmos, db));
      return readSqliteFiles(server.dataDir).map((f) => f.bytes.toString("latin1")).join("\n");
    },
  };
}

async function createWithSecrets(c: Ctx, cluster: string, name: string, userValue: string) {
  if ((await c.arm(`${clusterPath(cluster)}?${CV}`)).status === 404) {
    const res = await c.arm(`${clusterPath(cluster)}?${CV}`, { method: "PUT", body: clusterBody(c.agent.publicKeyB64) });
    if (res.status !== 201) throw new Error(res.text);
  }
  const hosts = knownHostsB64(`${userValue}.example`);
  const res = await c.arm(`${configurationPath(cluster, name)}?${V}`, {
    method: "PUT",
    body: configurationBody({ repositoryUrl: "https://git.example/fleet.git", operatorParams: "--git-readonly", configurationProtectedSettings: { httpsUser: b64(userValue), httpsKey: b64(`${userValue}-token`) }, sshKnownHostsContents: undefined }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(res.text);
  return { hosts };
}

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(`${engine}: expiry on every read path at once, then the sweep leaves nothing`, async (t) => {
    const c = await setup(t, engine);
    const user = `canary-${engine}-${Math.random().toString(36).slice(2, 10)}`;
    await createWithSecrets(c, "ret", "cfg", user);
    const hostsRes = await c.arm(`${configurationPath("ret", "kh")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64(`${user}-host`) }) });
    t.equal(hostsRes.status, 201);
    t.ok((await c.arm(`${configurationPath("ret", "kh")}?${V}`)).json.properties.sshKnownHostsContents, "known_hosts shown before expiry");

    const before = await c.poll("ret");
    const sealed = before.json.configurations.find((x: { name: string }) => x.name === "cfg").protectedSettings;
    const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(sealed, c.agent.privateKey)).plaintext));
    t.equal(Buffer.from(opened.protectedSettings.httpsUser, "base64").toString(), user, "the agent can fetch before expiry");

    const secretsDoc = await c.server.store.inner.get("configurationSecrets", `${clusterPath("ret")}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/cfg`.toLowerCase(), P);
    const ct = String(secretsDoc?.body.ct);
    const dekId = String(secretsDoc?.body.dek);
    const dekDoc = await c.server.store.inner.get("secretKey", dekId, P);
    t.ok(dekDoc, "the secrets have a key of their own");
    if (engine === "cosmos") {
      const raw = JSON.parse(await c.rawText()) as Array<{ kind: string; key: string; ttl?: number }>;
      t.equal(raw.find((d) => d.kind === "configurationSecrets" && d.key.endsWith("/cfg"))?.ttl, WINDOW_MS / 1000, "the secrets carry the window as ttl");
      t.equal(raw.find((d) => d.kind === "secretKey" && d.key === dekId)?.ttl, WINDOW_MS / 1000, "and so does their key");
    }

    c.clock.advance(WINDOW_MS + 1000);
    // every read path, before any sweep
    const get = await c.arm(`${configurationPath("ret", "kh")}?${V}`);
    t.notOk(get.json.properties.sshKnownHostsContents, "ARM GET: known_hosts gone");
    t.match(get.json.properties.complianceStatus, { complianceState: "Failed", messageLevel: "Error", message: EXPIRED_BEFORE_DELIVERY }, "and says why");
    const list = await c.arm(`${configurationPath("ret", "")}`.replace(/\/$/, "") + `?${V}`);
    t.notOk(JSON.stringify(list.json).includes("sshKnownHostsContents"), "ARM list: known_hosts gone");
    const after = await c.poll("ret");
    t.notOk(after.json.configurations.some((x: { protectedSettings?: string }) => x.protectedSettings), "agent endpoint: nothing to fetch");
    t.ok(await c.server.store.inner.scan({ kind: "configurationSecrets", expired: true }, { limit: 10 }).then((p) => p.items.length > 0), "not swept yet: the documents are still in the store");

    const sweep = await c.server.sweeper.runOnce();
    t.equal(sweep.purged, 2, "both configurations' secrets purged");
    const rawAfter = await c.rawText();
    t.notOk(rawAfter.includes(ct.slice(0, 40)), "their ciphertext is gone from the raw store");
    t.notOk(rawAfter.includes(dekId), "their key is gone");
    t.notOk(rawAfter.includes(String(dekDoc?.body.wrapped).slice(0, 40)), "the wrapped key bytes too");
    t.notOk(rawAfter.includes(user), "no value");
    t.ok(c.server.logs.some((l) => l.includes('"audit":"protectedSettingsPurged"') && l.includes('"reason":"expired"') && l.includes("httpsUser")), "an audit line names what was purged and why");
    t.notOk(c.server.logs.some((l) => l.includes(user) || l.includes(ct.slice(0, 40))), "and no log line holds a value or ciphertext");
    t.match((await c.server.metrics.registry.getSingleMetricAsString("protected_settings_purged_total")), /reason="expired"\} 2/);
    t.equal((await c.server.sweeper.runOnce()).purged, 0, "a second sweep has nothing to do");
  });
}

t.test("offline cluster: Failed with the reason; a new PUT with the secrets recovers it", async (t) => {
  const c = await setup(t, "sqlite");
  await createWithSecrets(c, "off", "cfg", "offline-user");
  c.clock.advance(WINDOW_MS + 1000);
  await c.server.sweeper.runOnce();
  const failed = await c.arm(`${configurationPath("off", "cfg")}?${V}`);
  t.match(failed.json.properties, { provisioningState: "Failed", complianceStatus: { complianceState: "Failed", message: EXPIRED_BEFORE_DELIVERY } }, "persisted by the sweep");
  await createWithSecrets(c, "off", "cfg", "offline-user");
  t.equal((await c.arm(`${configurationPath("off", "cfg")}?${V}`)).json.properties.complianceStatus.complianceState, "Pending", "resubmitted");
  const polled = await c.poll("off");
  const cfg = polled.json.configurations[0];
  t.ok(cfg.protectedSettings, "the agent receives them now");
  t.same((await c.report("off", "cfg", { observedGeneration: cfg.generation, complianceState: "Installed", protectedSettingsReceived: true })).json, { accepted: true });
  const ok = await c.arm(`${configurationPath("off", "cfg")}?${V}`);
  t.equal(ok.json.properties.complianceStatus.complianceState, "Installed");
  t.match(ok.json.properties.complianceStatus.message, /delivered to the cluster at/, "the delivery is visible as a message, never the values");
  c.clock.advance(WINDOW_MS + 1000);
  await c.server.sweeper.runOnce();
  t.equal((await c.arm(`${configurationPath("off", "cfg")}?${V}`)).json.properties.complianceStatus.complianceState, "Installed", "a cluster that got them is not disturbed by the expiry");
});

t.test("purge right after acknowledged delivery (option)", async (t) => {
  const c = await setup(t, "sqlite", { purgeAfterDelivery: true });
  await createWithSecrets(c, "pad", "cfg", "deliver-user");
  const cfg = (await c.poll("pad")).json.configurations[0];
  await c.report("pad", "cfg", { observedGeneration: cfg.generation, complianceState: "Installed", protectedSettingsReceived: true });
  t.same((await c.server.store.inner.list({ kind: "configurationSecrets", partition: P }, { limit: 10 })).items, [], "gone at once, inside the window");
  t.ok(c.server.logs.some((l) => l.includes('"reason":"delivered"')), "audited as delivered");
  t.notOk((await c.poll("pad")).json.configurations[0].protectedSettings, "nothing left to fetch");
});

t.test("two sweepers on one store purge each record once; a sweep that dies half-way finishes on the next run", async (t) => {
  const c = await setup(t, "sqlite");
  for (let i = 0; i < 6; i++) await createWithSecrets(c, "many", `c${i}`, `u${i}`);
  const second = await startServer({ dataDir: c.server.dataDir, clock: c.clock, store: c.server.store.inner, retention: { secretsRetentionMs: WINDOW_MS, holder: "replica-2" } });
  t.teardown(() => second.close());
  c.clock.advance(WINDOW_MS + 1000);
  const [a, b] = await Promise.all([c.server.sweeper.runOnce(), second.sweeper.runOnce()]);
  t.equal(a.purged + b.purged, 6, "six records, six purges in all");
  t.ok(!a.ran || !b.ran, "the lease let one sweeper work");
  const audits = [...c.server.logs, ...second.logs].filter((l) => l.includes('"audit":"protectedSettingsPurged"'));
  t.equal(audits.length, 6, "each purge audited once");

  // a sweep killed inside its commit keeps nothing of it (keys and secrets go in one commit); and a
  // document whose key is already gone (what a crash between the two steps of an older version left)
  // is purged all the same
  for (let i = 0; i < 3; i++) await createWithSecrets(c, "crash", `c${i}`, `x${i}`);
  c.clock.advance(WINDOW_MS + 1000);
  const inner = c.server.store.inner;
  const [first] = (await inner.scan({ kind: "configurationSecrets", expired: true }, { limit: 1 })).items;
  t.ok(await inner.delete("secretKey", String(first?.body.dek), P), "one document's key destroyed before the sweep");
  const realCommit = inner.commit.bind(inner);
  let crashes = 1;
  inner.commit = async (ops) => {
    if (ops.some((op) => op.op === "delete" && op.kind === "configurationSecrets") && crashes-- > 0) throw new Error("process killed");
    return realCommit(ops);
  };
  await t.rejects(c.server.sweeper.runOnce(), /process killed/, "the first sweep dies");
  inner.commit = realCommit;
  t.equal((await inner.scan({ kind: "configurationSecrets", expired: true }, { limit: 10 })).items.length, 3, "the dead sweep's commit kept nothing");
  const resumed = await c.server.sweeper.runOnce();
  t.equal(resumed.purged, 3, "the next sweep finishes all three (one's key was already destroyed)");
  t.same((await inner.scan({ kind: "configurationSecrets", expired: true }, { limit: 10 })).items, [], "nothing left");
  t.same((await inner.scan({ kind: "secretKey", expired: true }, { limit: 10 })).items, [], "no key left");
});
