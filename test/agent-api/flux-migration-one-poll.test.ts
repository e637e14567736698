/**
 * The one-poll switch (docs/design/flux-v2.md): a cluster with two Flux v1 configurations (one with an SSH key)
 * migrates in one action, and its agent's desired state goes from "v1" to "v1 removed, v2 applied" in ONE
 * version: every response a continuously polling agent receives holds either both v1 configurations live and no
 * fluxConfiguration, or both v1 tombstones and both fluxConfigurations live — never both kinds live, never
 * neither. The SSH key reaches the agent only sealed to its key (JWE) and is the very key submitted to v1; the
 * v2 configuration reaches Compliant on the agent's report; a cluster offline during the migration gets the v2
 * state on its first poll back; the dry run changes nothing. A snapshot whose reads straddle the migration's
 * commit is never served (a commit is injected between the v1 and the v2 reads of a build).
 */
import t from "tap";
import { compactDecrypt } from "jose";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { createStore } from "../../src/store/factory.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Store } from "../../src/store/port.js";
import { tempDir } from "../helpers/server.js";
import path from "node:path";

const V1 = "api-version=2024-11-01";
const MV = "api-version=2026-12-01-preview";
const CV = "api-version=2024-01-01";

/** a store whose list of fluxConfigurations runs `before` first, once armed (to land a commit mid-build) */
function hookedStore(inner: Store): { store: Store; arm(before: () => Promise<void>): void } {
  let armed: (() => Promise<void>) | undefined;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "list") {
        return async (query: { kind?: string }, page: unknown) => {
          const run = query.kind === "fluxConfiguration" ? armed : undefined;
          if (run) {
            armed = undefined;
            await run();
          }
          return (target.list as (q: unknown, p: unknown) => Promise<unknown>).call(target, query, page);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, arm: (before) => (armed = before) };
}

let server: TestServer;
let http: ReturnType<typeof client>;
let raw: ReturnType<typeof client>;
let hook: ReturnType<typeof hookedStore>;

t.before(async () => {
  const dir = tempDir("one-poll-");
  const inner = await createStore({ engine: "sqlite", path: path.join(dir, "store.db") }, systemClock, { runMigrationsAtStartup: true });
  hook = hookedStore(inner);
  server = await startServer({ store: hook.store, agent: { stalenessMs: 60_000 } });
  http = client(server.url, server.ca, server.token);
  raw = client(server.url, server.ca);
});
t.teardown(() => server.close());

interface Seen {
  generation: number;
  v1Live: string[];
  v1Gone: string[];
  v2Live: string[];
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function seen(body: any): Seen { // eslint-disable-line @typescript-eslint/no-explicit-any
  const v1 = (body.configurations ?? []) as { name: string; deleted: boolean }[];
  const v2 = (body.fluxConfigurations ?? []) as { name: string; deleted: boolean }[];
  return { generation: body.generation, v1Live: v1.filter((c) => !c.deleted).map((c) => c.name).sort(), v1Gone: v1.filter((c) => c.deleted).map((c) => c.name).sort(), v2Live: v2.filter((c) => !c.deleted).map((c) => c.name).sort(), body };
}

async function setupCluster(name: string, agent: TestAgent, key: string, hosts: string): Promise<void> {
  t.equal((await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const a = await http(`${configurationPath(name, "apps")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "git@github.com:example/apps.git", operatorNamespace: "apps", operatorParams: "--git-branch=main --git-path=clusters/prod --git-readonly", configurationProtectedSettings: { sshPrivateKey: key }, sshKnownHostsContents: hosts } } });
  t.equal(a.status, 201, a.text);
  const b = await http(`${configurationPath(name, "infra")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/infra", operatorNamespace: "infra", operatorScope: "namespace" } } });
  t.equal(b.status, 201, b.text);
}

const poll = async (cluster: string, agent: TestAgent, etag?: string, wait = 0) =>
  raw(`/agent/v1${clusterPath(cluster)}/configurations${wait > 0 ? `?waitSeconds=${wait}` : ""}`, { token: await agent.token(clusterPath(cluster)), headers: etag ? { "if-none-match": etag } : {} });

const V1_STATE = (s: Seen) => s.v1Live.join() === "apps,infra" && s.v2Live.length === 0;
const V2_STATE = (s: Seen) => s.v1Live.length === 0 && s.v1Gone.join() === "apps,infra" && s.v2Live.join() === "apps,infra";

t.test("two v1 configurations switch to v2 in one poll; every response is all v1 or all v2", async (t) => {
  const agent = testAgent("ec");
  const key = sshPrivateKeyB64();
  const hosts = knownHostsB64();
  await setupCluster("c-switch", agent, key, hosts);

  // the dry run changes nothing: same ETag before and after
  const first = await poll("c-switch", agent);
  t.equal(first.status, 200);
  t.ok(V1_STATE(seen(first.json)));
  const dry = await http(`${clusterPath("c-switch")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`, { method: "POST", body: { whatIf: true } });
  t.equal(dry.status, 200);
  t.equal((await poll("c-switch", agent, first.headers.etag as string)).status, 304, "the dry run did not change the desired state");

  // an agent polling as fast as it can, recording every response, while the migration commits
  const responses: Seen[] = [];
  let etag = first.headers.etag as string;
  responses.push(seen(first.json));
  let stop = false;
  const poller = (async () => {
    while (!stop) {
      const res = await poll("c-switch", agent, etag, 1);
      if (res.status === 200) {
        responses.push(seen(res.json));
        etag = res.headers.etag as string;
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  const res = await http(`${clusterPath("c-switch")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
  t.equal(res.status, 200, res.status === 200 ? "migrated" : res.text);
  t.notOk(res.text.includes(key), "the key is not in the answer");
  const deadline = Date.now() + 5000;
  while (!responses.some(V2_STATE) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  await poller;

  t.ok(responses.length >= 2, `${responses.length} desired-state versions seen`);
  for (const s of responses) t.ok(V1_STATE(s) || V2_STATE(s), `version ${s.generation}: v1 live [${s.v1Live}], v1 removed [${s.v1Gone}], v2 live [${s.v2Live}]`);
  const switchAt = responses.findIndex(V2_STATE);
  t.ok(switchAt > 0, "the switch is seen");
  t.ok(responses.slice(0, switchAt).every(V1_STATE) && responses.slice(switchAt).every(V2_STATE), "one switch, from v1 to v2, in one version");
  t.equal(responses[switchAt]?.generation, (responses[switchAt - 1]?.generation ?? 0) + 1, "the v2 version directly follows the last v1 one: no version in between ever existed");

  // the SSH key: only in the v2 item, sealed to the agent's key, and it is the very key submitted to v1
  const v2 = responses[switchAt]?.body;
  const apps = v2.fluxConfigurations.find((c: any) => c.name === "apps");
  t.notOk(JSON.stringify(v2).includes(key), "never in clear in the desired state");
  t.match(apps.protectedSettings, /^[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+$/, "a compact JWE");
  const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(apps.protectedSettings, agent.privateKey)).plaintext));
  t.equal(opened.protectedSettings.sshPrivateKey, key, "the agent unseals the key submitted to v1");
  t.equal(opened.sshKnownHostsContents, hosts);
  t.equal(apps.properties.gitRepository.url, "ssh://git@github.com/example/apps.git");
  t.same(Object.values(apps.properties.kustomizations).map((k: any) => k.path), ["./clusters/prod"]);
  for (const line of server.logs) t.notOk(line.includes(key), "never logged");

  // the agent applies v2 and removes v1; the v2 configurations reach Compliant
  const token = await agent.token(clusterPath("c-switch"));
  for (const c of v2.configurations) {
    const r = await raw(`/agent/v1${clusterPath("c-switch")}/configurations/${c.name}/status`, { method: "POST", token, body: { observedGeneration: c.generation, removed: true, complianceState: "Installed" } });
    t.equal(r.status, 200, r.text);
  }
  for (const f of v2.fluxConfigurations) {
    const r = await raw(`/agent/v1${clusterPath("c-switch")}/fluxConfigurations/${f.name}/status`, { method: "POST", token, body: { observedGeneration: f.generation, complianceState: "Compliant", protectedSettingsReceived: f.protectedSettings !== undefined, sourceSyncedCommitId: "main@sha1:0123456789abcdef0123456789abcdef01234567" } });
    t.equal(r.status, 200, r.text);
  }
  for (const name of ["apps", "infra"]) {
    const got = await http(`${clusterPath("c-switch")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/${name}?${V1}`);
    t.equal(got.status, 200, got.text);
    t.equal(got.json.properties.complianceState, "Compliant", `${name} is Compliant`);
    t.notOk(got.text.includes(key));
  }
  const after = await poll("c-switch", agent);
  t.same(seen(after.json).v1Gone, [], "the v1 tombstones are gone once the agent reported them removed");
});

t.test("a cluster offline during the migration gets the v2 state on its first poll back", async (t) => {
  const agent = testAgent("ec");
  await setupCluster("c-off", agent, sshPrivateKeyB64(), knownHostsB64());
  const last = await poll("c-off", agent);
  t.ok(V1_STATE(seen(last.json)));
  // the agent goes away; the migration happens without it
  const res = await http(`${clusterPath("c-off")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
  t.equal(res.status, 200, res.text);
  const back = await poll("c-off", agent, last.headers.etag as string);
  t.equal(back.status, 200);
  t.ok(V2_STATE(seen(back.json)), "v1 removed and v2 applied, in the first poll back");
});

t.test("a build whose reads straddle the migration's commit is never served", async (t) => {
  const agent = testAgent("ec");
  await setupCluster("c-race", agent, sshPrivateKeyB64(), knownHostsB64());
  const before = await poll("c-race", agent);
  t.ok(V1_STATE(seen(before.json)));
  // a v1 PUT changes the state (so the next poll builds) and, in that build, the migration commits between
  // the read of the v1 configurations and the read of the fluxConfigurations
  const put = await http(`${configurationPath("c-race", "infra")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/infra", operatorNamespace: "infra", operatorScope: "namespace", operatorParams: "--git-branch=next" } } });
  t.equal(put.status, 200, put.text);
  let migrated = 0;
  hook.arm(async () => {
    const r = await http(`${clusterPath("c-race")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
    migrated = r.status;
  });
  const builds = server.agentServices.desired.builds;
  const res = await poll("c-race", agent, before.headers.etag as string);
  t.equal(migrated, 200, "the migration committed in the middle of the build");
  t.ok(server.agentServices.desired.builds - builds >= 2, "the straddling build was thrown away and built again");
  t.ok(V2_STATE(seen(res.json)), "the poll got the committed v2 state, not a mix");
});
