/**
 * Flux v2 (issue #16): the official, unmodified `client.fluxConfigurations.*` of
 * @azure/arm-kubernetesconfiguration 6.1.0 against the real service over HTTPS, at its default
 * api-version (2023-05-01) and at 2024-11-01: create (LRO, polled through Azure-AsyncOperation), get,
 * list across pages, update (PATCH, LRO), delete with forceDelete and the asynchronous delete that
 * finishes when the cluster's agent reports the Flux objects removed. The 2024-11-01 traffic is
 * validated with `oav validate-traffic` against the OFFICIAL fluxconfiguration.json: zero errors,
 * every operation covered (the reference holds no official flux document for 2023-05-01).
 */
import path from "node:path";
import t from "tap";
import { SourceControlConfigurationClient, type FluxConfiguration } from "@azure/arm-kubernetesconfiguration";
import type { TokenCredential } from "@azure/core-auth";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { clusterBody, clusterPath, knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { TrafficRecorder } from "../helpers/traffic.js";
import { FLUX_2024, validateTraffic } from "../helpers/oav.js";

const RG = "rg1";
const CLUSTER = "flux-sdk";
let server: TestServer;
let credential: TokenCredential;
const recorder = new TrafficRecorder();
const work = tempDir("kcrp-flux-sdk-");
const agent = testAgent();
const clusterId = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Kubernetes/connectedClusters/${CLUSTER}`;

t.before(async () => {
  server = await startServer({ pageSize: 2 });
  credential = { getToken: async () => ({ token: server.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const http = client(server.url, server.ca, server.token);
  const res = await http(`${clusterPath(CLUSTER)}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
  if (res.status !== 201) throw new Error(`cluster: ${res.status} ${res.text}`);
});
t.teardown(() => server.close());

const clientOptions = (apiVersion?: string) => ({
  endpoint: server.url,
  tlsOptions: { ca: server.ca },
  retryOptions: { maxRetries: 0 },
  additionalPolicies: [{ policy: recorder.policy(), position: "perRetry" as const }],
  ...(apiVersion ? { apiVersion } : {}),
});

interface RestErrorLike {
  name: string;
  statusCode?: number;
  code?: string;
}
const asRestError = (e: unknown): RestErrorLike | undefined => (e instanceof Error && e.name === "RestError" ? (e as RestErrorLike) : undefined);

function statusOf() {
  let status = 0;
  return { onResponse: (raw: { status: number }) => void (status = raw.status), get status() { return status; } };
}

const KNOWN_HOSTS = knownHostsB64();
const body = (): FluxConfiguration => ({
  scope: "cluster",
  namespace: "flux-system",
  sourceKind: "GitRepository",
  gitRepository: {
    url: "ssh://git@github.com/example/cluster-config.git",
    repositoryRef: { branch: "main" },
    syncIntervalInSeconds: 300,
    sshKnownHosts: KNOWN_HOSTS,
  },
  kustomizations: {
    infra: { path: "./infrastructure", prune: true },
    apps: { path: "./apps/staging", dependsOn: ["infra"], retryIntervalInSeconds: 60 },
  },
  configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() },
});

/** what the agent sees of this cluster: its fluxConfigurations (tombstones included) */
async function agentView(): Promise<Array<{ name: string; generation: number; deleted: boolean }>> {
  const http = client(server.url, server.ca);
  const res = await http(`/agent/v1${clusterId}/configurations`, { token: await agent.token(clusterId) });
  return ((res.json as { fluxConfigurations?: Array<{ name: string; generation: number; deleted: boolean }> }).fluxConfigurations ?? []);
}

for (const apiVersion of [undefined, "2024-11-01"] as const) {
  const label = apiVersion ?? "SDK default (2023-05-01)";
  t.test(`fluxConfigurations with @azure/arm-kubernetesconfiguration@6.1.0 at ${label}`, async (t) => {
    const ops = new SourceControlConfigurationClient(credential, SUB, clientOptions(apiVersion)).fluxConfigurations;
    const at = ["Microsoft.Kubernetes", "connectedClusters", CLUSTER] as const;
    const suffix = (apiVersion ?? "default").replace(/-/g, "");
    const names = ["a", "b", "c"].map((n) => `fx-${n}-${suffix}`);
    for (const name of names) {
      const s = statusOf();
      const created = await ops.beginCreateOrUpdateAndWait(RG, ...at, name, body(), { updateIntervalInMs: 10, onResponse: s.onResponse });
      t.equal(created.name, name);
      t.equal(created.provisioningState, "Succeeded");
      t.equal(created.complianceState, "Pending", "Pending until the agent reports");
      t.equal(created.configurationProtectedSettings, undefined, "protected settings never returned (x-ms-secret)");
      t.equal(created.gitRepository?.sshKnownHosts, KNOWN_HOSTS, "known hosts shown while kept");
      t.equal(created.kustomizations?.apps?.dependsOn?.[0], "infra");
      t.equal(created.kustomizations?.infra?.timeoutInSeconds, 600, "server-side default");
      t.equal(created.kustomizations?.apps?.wait, true, "server-side default");
    }
    const got = await ops.get(RG, ...at, names[0] ?? "");
    t.equal(got.gitRepository?.url, "ssh://git@github.com/example/cluster-config.git");
    t.equal(got.gitRepository?.repositoryRef?.branch, "main");
    t.equal(got.id, `${clusterId}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/${names[0]}`);

    const pages: number[] = [];
    for await (const page of ops.list(RG, ...at).byPage()) pages.push(page.length);
    t.ok(pages.length >= 2, `listed over several pages (${pages.join("+")})`);

    const u = statusOf();
    const updated = await ops.beginUpdateAndWait(RG, ...at, names[0] ?? "", { suspend: true, kustomizations: { apps: { path: "./apps/prod" } } }, { updateIntervalInMs: 10, onResponse: u.onResponse });
    t.equal(updated.suspend, true, "PATCH merged");
    t.equal(updated.kustomizations?.apps?.path, "./apps/prod");
    t.equal(updated.kustomizations?.apps?.dependsOn?.[0], "infra", "what the patch did not name is kept");
    t.equal(updated.complianceState, "Suspended");

    const f = statusOf();
    await ops.beginDeleteAndWait(RG, ...at, names[1] ?? "", { forceDelete: true, updateIntervalInMs: 10, onResponse: f.onResponse });
    t.equal(f.status, 200, "forceDelete answers 200 at once");
    t.equal(asRestError(await ops.get(RG, ...at, names[1] ?? "").catch((e: unknown) => e))?.statusCode, 404);
    t.notOk((await agentView()).some((c) => c.name === names[1]), "forced: no tombstone, the agent prunes it");

    // the asynchronous delete runs until the agent reports the Flux objects removed
    const poller = await ops.beginDelete(RG, ...at, names[2] ?? "", { updateIntervalInMs: 10 });
    t.notOk(poller.isDone(), "deleting: the agent has not removed the objects yet");
    const tomb = (await agentView()).find((c) => c.name === names[2]);
    t.equal(tomb?.deleted, true, "the agent is told to remove it");
    const http = client(server.url, server.ca);
    const report = await http(`/agent/v1${clusterId}/fluxConfigurations/${names[2]}/status`, {
      method: "POST",
      token: await agent.token(clusterId),
      body: { observedGeneration: tomb?.generation, complianceState: "Compliant", removed: true },
    });
    t.equal(report.status, 200);
    await poller.pollUntilDone();
    t.ok(poller.isDone(), "the delete operation succeeded");
    t.equal(asRestError(await ops.get(RG, ...at, names[2] ?? "").catch((e: unknown) => e))?.code, "ResourceNotFound");

    const missing = statusOf();
    await ops.beginDeleteAndWait(RG, ...at, "never-existed", { updateIntervalInMs: 10, onResponse: missing.onResponse });
    t.equal(missing.status, 204, "delete of a missing name answers 204");
    // leave the cluster for the other api-version's run: its first configuration goes too
    await ops.beginDeleteAndWait(RG, ...at, names[0] ?? "", { forceDelete: true, updateIntervalInMs: 10 });
  });
}

t.test("the 2024-11-01 traffic passes oav validate-traffic against the official fluxconfiguration.json", async (t) => {
  const dir = path.join(work, "traffic-flux-2024-11-01");
  const written = recorder.writeTo(dir, (p) => p.liveRequest.url.includes("fluxConfigurations") && p.liveRequest.url.includes("api-version=2024-11-01"));
  t.ok(written >= 15, `${written} request/response pairs recorded`);
  const report = await validateTraffic(dir, FLUX_2024, work);
  t.equal(report.exitCode, 0, "oav exit code");
  t.same(report.errors, [], "no errors");
  t.equal(report.coveredOperations, 6, "every operation covered: CreateOrUpdate, Update, Get, List, Delete, FluxConfigOperationStatus_Get");
});
