/**
 * `waitForReconciliation` / `reconciliationWaitDuration` (fluxConfiguration 2024-11-01: "whether flux
 * configuration deployment should wait for cluster to reconcile the kustomizations", "maximum duration to
 * wait"): the long-running PUT's (and PATCH's) operation stays InProgress until the cluster's agent reports
 * THIS generation Compliant (Succeeded) or Non-Compliant (Failed, ReconciliationFailed), or the wait passes
 * (Failed, ReconciliationTimedOut). No request is held open (the PUT answers at once) and the state is the
 * stored record's, so two replicas over one store answer the same. The official SDK's
 * beginCreateOrUpdateAndWait/beginUpdateAndWait wait for the reference agent's report.
 */
import path from "node:path";
import t from "tap";
import type { TokenCredential } from "@azure/identity";
import { SourceControlConfigurationClient } from "@azure/arm-kubernetesconfiguration";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { systemClock } from "../../src/ports/clock.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, fluxConfigurationPath, knownHostsB64, RG, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

let a: TestServer;
let b: TestServer;
t.before(async () => {
  const dir = tempDir("wait-");
  const file = path.join(dir, "store.db");
  const storeA = new SqliteStore(file, systemClock);
  await storeA.migrate();
  const storeB = new SqliteStore(file, systemClock);
  a = await startServer({ dataDir: dir, store: storeA, agent: { stalenessMs: 500 } });
  b = await startServer({ dataDir: dir, store: storeB, agent: { stalenessMs: 500 } });
});
t.teardown(async () => {
  await a.close();
  await b.close();
});

const body = (extra: Record<string, unknown>) => ({
  properties: {
    scope: "cluster",
    namespace: "flux-system",
    sourceKind: "GitRepository",
    gitRepository: { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main" }, sshKnownHosts: knownHostsB64("github.com") },
    kustomizations: { apps: { path: "./apps" } },
    configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() },
    ...extra,
  },
});

/** the operation's status as a replica answers it (the path from the write's Azure-AsyncOperation header) */
async function status(server: TestServer, asyncOperation: string) {
  const url = new URL(asyncOperation);
  const res = await client(server.url, server.ca, server.token)(`${url.pathname}${url.search}`);
  return res;
}

t.test("SDK + reference agent: the write's operation runs until the agent reports this generation Compliant", async (t) => {
  const http = client(a.url, a.ca, a.token);
  const key = generateAgentKey("ec");
  t.equal((await http(`${clusterPath("waits")}?${CV}`, { method: "PUT", body: clusterBody(key.publicKeyB64) })).status, 201);

  // the PUT answers at once; its operation is InProgress on both replicas (no agent runs yet)
  const put = await http(`${fluxConfigurationPath("waits", "fleet")}?${V}`, { method: "PUT", body: body({ waitForReconciliation: true, reconciliationWaitDuration: "PT5M" }) });
  t.equal(put.status, 201);
  t.equal(put.json?.properties?.provisioningState, "Creating", "the resource shows the write still running");
  t.equal(put.headers["retry-after"], "5");
  const op = put.headers["azure-asyncoperation"] as string;
  for (const server of [a, b]) {
    const s = await status(server, op);
    t.equal(s.status, 200);
    t.equal(s.json?.status, "InProgress", `InProgress on replica ${server === a ? "A" : "B"}`);
    t.equal(s.headers["retry-after"], "5");
  }
  t.equal((await client(b.url, b.ca, b.token)(`${fluxConfigurationPath("waits", "fleet")}?${V}`)).json?.properties?.provisioningState, "Creating", "GET on the other replica too");

  // the reference agent applies it and reports: Succeeded, on the other replica as well
  const privateKey = loadAgentKey(key.privateKeyPem);
  const clusterId = clusterPath("waits");
  let reports = 0;
  const agent = new Agent({ client: new AgentClient({ serviceUrl: b.url, clusterId, privateKey, ca: b.ca }), privateKey, outDir: tempDir("wait-out-"), waitSeconds: 1, onApplied: () => void reports++ });
  let stop = new AbortController();
  let running = agent.run({ signal: stop.signal });
  let done: string | undefined;
  for (let i = 0; i < 100 && done !== "Succeeded"; i++) {
    done = (await status(a, op)).json?.status;
    if (done !== "Succeeded") await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(done, "Succeeded", "Succeeded once the agent reported");
  t.ok(reports > 0, "after the agent applied it");
  const got = await http(`${fluxConfigurationPath("waits", "fleet")}?${V}`);
  t.equal(got.json?.properties?.provisioningState, "Succeeded");
  t.equal(got.json?.properties?.complianceState, "Compliant");
  stop.abort();
  await running.catch(() => undefined);

  // the official SDK waits through InProgress: beginUpdateAndWait resolves only after the agent's report
  const credential: TokenCredential = { getToken: async () => ({ token: a.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const flux = new SourceControlConfigurationClient(credential, SUB, { endpoint: a.url, tlsOptions: { ca: a.ca }, retryOptions: { maxRetries: 0 }, apiVersion: "2024-11-01" }).fluxConfigurations;
  let resolved = false;
  const update = flux.beginUpdateAndWait(RG, "Microsoft.Kubernetes", "connectedClusters", "waits", "fleet", { kustomizations: { apps: { path: "./apps/v2" } } }, { updateIntervalInMs: 50 }).then((r) => {
    resolved = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(resolved, "the SDK is still waiting: no agent has reported generation 2");
  stop = new AbortController();
  running = agent.run({ signal: stop.signal });
  const final = await update;
  t.equal(final.provisioningState, "Succeeded");
  t.equal(final.complianceState, "Compliant", "what the SDK returns is the reconciled generation");
  stop.abort();
  await running.catch(() => undefined);
});

t.test("the wait passes without a report: Failed ReconciliationTimedOut, and stays so", async (t) => {
  const http = client(a.url, a.ca, a.token);
  const agent = testAgent("ec");
  t.equal((await http(`${clusterPath("offline")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const put = await http(`${fluxConfigurationPath("offline", "fleet")}?${V}`, { method: "PUT", body: body({ waitForReconciliation: true, reconciliationWaitDuration: "PT2S" }) });
  t.equal(put.status, 201);
  const op = put.headers["azure-asyncoperation"] as string;
  t.equal((await status(b, op)).json?.status, "InProgress");
  await new Promise((r) => setTimeout(r, 2100));
  const failed = await status(b, op);
  t.equal(failed.json?.status, "Failed");
  t.equal(failed.json?.error?.code, "ReconciliationTimedOut");
  t.match(failed.json?.error?.message, /PT2S/);
  t.notOk(failed.headers["retry-after"], "a finished operation has no Retry-After");
  const got = await http(`${fluxConfigurationPath("offline", "fleet")}?${V}`);
  t.equal(got.json?.properties?.provisioningState, "Failed");
  t.match(got.json?.properties?.errorMessage, /did not report/);
  // a report after the wait does not rewrite how the write ended
  const token = await agent.token(clusterPath("offline"));
  const late = await client(a.url, a.ca)(`/agent/v1${clusterPath("offline")}/fluxConfigurations/fleet/status`, { method: "POST", token, body: { observedGeneration: 1, complianceState: "Compliant" } });
  t.equal(late.status < 300, true, late.text);
  t.equal((await status(a, op)).json?.status, "Failed", "still Failed");
  t.equal((await http(`${fluxConfigurationPath("offline", "fleet")}?${V}`)).json?.properties?.complianceState, "Compliant", "while the compliance shows the cluster caught up");
});

t.test("a Non-Compliant report of this generation: Failed ReconciliationFailed with the agent's message; without waitForReconciliation: Succeeded at once", async (t) => {
  const http = client(a.url, a.ca, a.token);
  const agent = testAgent("ec");
  t.equal((await http(`${clusterPath("broken")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const put = await http(`${fluxConfigurationPath("broken", "fleet")}?${V}`, { method: "PUT", body: body({ waitForReconciliation: true }) });
  const op = put.headers["azure-asyncoperation"] as string;
  t.equal((await status(a, op)).json?.status, "InProgress", "the default wait (PT10M) is running");
  const token = await agent.token(clusterPath("broken"));
  const pending = await client(a.url, a.ca)(`/agent/v1${clusterPath("broken")}/fluxConfigurations/fleet/status`, { method: "POST", token, body: { observedGeneration: 1, complianceState: "Pending" } });
  t.ok(pending.status < 300, pending.text);
  t.equal((await status(b, op)).json?.status, "InProgress", "Pending keeps it waiting");
  const bad = await client(a.url, a.ca)(`/agent/v1${clusterPath("broken")}/fluxConfigurations/fleet/status`, { method: "POST", token, body: { observedGeneration: 1, complianceState: "Non-Compliant", errorMessage: "kustomize build failed: missing resource apps/x.yaml" } });
  t.ok(bad.status < 300, bad.text);
  const failed = await status(b, op);
  t.equal(failed.json?.status, "Failed");
  t.equal(failed.json?.error?.code, "ReconciliationFailed");
  t.match(failed.json?.error?.message, /kustomize build failed/);

  const plain = await http(`${fluxConfigurationPath("broken", "other")}?${V}`, { method: "PUT", body: body({ kustomizations: { other: { path: "./other" } } }) });
  t.equal(plain.status, 201);
  t.equal(plain.json?.properties?.provisioningState, "Succeeded");
  t.notOk(plain.headers["retry-after"]);
  t.equal((await status(a, plain.headers["azure-asyncoperation"] as string)).json?.status, "Succeeded", "no wait asked: Succeeded when accepted");
});
