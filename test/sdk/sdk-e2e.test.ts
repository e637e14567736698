/**
 * The official, unmodified SDK clients against the real service over HTTPS (self-signed certificate
 * trusted through `tlsOptions`), at the SDK's default api-version and at 2024-11-01 and 2021-03-01.
 * Everything they send and receive is recorded and validated with `oav validate-traffic` against the
 * reference swaggers, with zero errors and every operation covered.
 */
import path from "node:path";
import t from "tap";
import { ConnectedKubernetesClient } from "@azure/arm-hybridkubernetes";
import { SourceControlConfigurationClient, type SourceControlConfiguration } from "@azure/arm-kubernetesconfiguration";
import type { TokenCredential } from "@azure/core-auth";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { agentPublicKey, knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { TrafficRecorder } from "../helpers/traffic.js";
import { SCC_2021, SCC_2024, specForVersion, validateTraffic } from "../helpers/oav.js";

const RG = "rg-sdk";
let server: TestServer;
let credential: TokenCredential;
const recorder = new TrafficRecorder();
const work = tempDir("kcrp-sdk-");

t.before(async () => {
  server = await startServer({ pageSize: 2 });
  credential = { getToken: async () => ({ token: server.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
});
t.teardown(() => server.close());

const clientOptions = () => ({
  endpoint: server.url,
  tlsOptions: { ca: server.ca },
  retryOptions: { maxRetries: 0 },
  additionalPolicies: [{ policy: recorder.policy(), position: "perRetry" as const }],
});

/** what the SDK throws for an error response (its own copy of core-rest-pipeline, so no instanceof) */
interface RestErrorLike {
  name: string;
  statusCode?: number;
  code?: string;
}
const asRestError = (e: unknown): RestErrorLike | undefined => (e instanceof Error && e.name === "RestError" ? (e as RestErrorLike) : undefined);

/** the HTTP status of one SDK call, read from its raw response */
function statusOf() {
  let status = 0;
  return { onResponse: (raw: { status: number }) => void (status = raw.status), get status() { return status; } };
}

t.test("connected clusters with @azure/arm-hybridkubernetes@2.1.0", async (t) => {
  const hk = new ConnectedKubernetesClient(credential, SUB, clientOptions());
  const body = { location: "eastus", identity: { type: "SystemAssigned" as const }, agentPublicKeyCertificate: agentPublicKey().publicKeyB64, distribution: "k3s" };
  const created = await hk.connectedClusterOperations.beginCreateAndWait(RG, "sdk-cluster", body);
  t.equal(created.name, "sdk-cluster");
  t.equal(created.connectivityStatus, "Connecting");
  t.equal(created.provisioningState, "Succeeded");
  await hk.connectedClusterOperations.beginCreateAndWait(RG, "sdk-cluster-2", body);
  await hk.connectedClusterOperations.beginCreateAndWait(RG, "sdk-cluster-3", body);
  const got = await hk.connectedClusterOperations.get(RG, "sdk-cluster");
  t.equal(got.id, `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Kubernetes/connectedClusters/sdk-cluster`);
  const byRg: string[] = [];
  for await (const c of hk.connectedClusterOperations.listByResourceGroup(RG)) byRg.push(c.name ?? "");
  t.same(byRg.sort(), ["sdk-cluster", "sdk-cluster-2", "sdk-cluster-3"], "listed across pages of 2");
  const bySub: string[] = [];
  for await (const c of hk.connectedClusterOperations.listBySubscription()) bySub.push(c.name ?? "");
  t.ok(bySub.includes("sdk-cluster-3"));
  await hk.connectedClusterOperations.beginDeleteAndWait(RG, "sdk-cluster-3");
  const gone = await hk.connectedClusterOperations.get(RG, "sdk-cluster-3").catch((e: unknown) => e);
  t.equal(asRestError(gone)?.statusCode, 404, "deleted cluster answers 404 (RestError)");
});

for (const apiVersion of [undefined, "2024-11-01", "2021-03-01"] as const) {
  const label = apiVersion ?? "SDK default (2023-05-01)";
  t.test(`sourceControlConfigurations with @azure/arm-kubernetesconfiguration@6.1.0 at ${label}`, async (t) => {
    const scc = new SourceControlConfigurationClient(credential, SUB, { ...clientOptions(), ...(apiVersion ? { apiVersion } : {}) });
    const cluster = "sdk-cluster";
    const ops = scc.sourceControlConfigurations;
    const suffix = (apiVersion ?? "default").replace(/-/g, "");
    const names = ["a", "b", "c"].map((n) => `cfg-${n}-${suffix}`);
    const body: SourceControlConfiguration = {
      repositoryUrl: "git@github.com:example/cluster-config.git",
      operatorInstanceName: "flux-sdk",
      operatorType: "Flux",
      operatorParams: "--git-readonly",
      configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() },
      sshKnownHostsContents: knownHostsB64(),
    };
    for (const name of names) {
      const s = statusOf();
      const created = await ops.createOrUpdate(RG, "Microsoft.Kubernetes", "connectedClusters", cluster, name, body, { onResponse: s.onResponse });
      t.equal(s.status, 201, `${name} created`);
      t.equal(created.operatorNamespace, "default", "server-side default");
      t.equal(created.operatorScope, "cluster", "server-side default");
      t.same(created.configurationProtectedSettings, {}, "protected settings never returned");
      t.equal(created.complianceStatus?.complianceState, "Pending");
    }
    const got = await ops.get(RG, "Microsoft.Kubernetes", "connectedClusters", cluster, names[0] ?? "");
    t.equal(got.repositoryUrl, body.repositoryUrl);
    t.equal(got.sshKnownHostsContents, body.sshKnownHostsContents, "known_hosts returned as stored");

    const pages: number[] = [];
    for await (const page of ops.list(RG, "Microsoft.Kubernetes", "connectedClusters", cluster).byPage()) pages.push(page.length);
    t.ok(pages.length >= 2, `listed over several pages (${pages.join("+")})`);
    t.ok(pages.reduce((a, b) => a + b, 0) >= names.length);

    const s = statusOf();
    const updated = await ops.createOrUpdate(RG, "Microsoft.Kubernetes", "connectedClusters", cluster, names[0] ?? "", { ...body, operatorParams: "--git-readonly --git-branch=main" }, { onResponse: s.onResponse });
    t.equal(s.status, 200, "update answers 200");
    t.equal(updated.operatorParams, "--git-readonly --git-branch=main");

    const d = statusOf();
    await ops.beginDeleteAndWait(RG, "Microsoft.Kubernetes", "connectedClusters", cluster, names[0] ?? "", { onResponse: d.onResponse, updateIntervalInMs: 10 });
    t.equal(d.status, 200, "delete of an existing configuration answers 200");
    const after = await ops.get(RG, "Microsoft.Kubernetes", "connectedClusters", cluster, names[0] ?? "").catch((e: unknown) => e);
    t.equal(asRestError(after)?.statusCode, 404, "get after delete throws RestError 404");
    t.equal(asRestError(after)?.code, "ResourceNotFound");
    const missing = statusOf();
    await ops.beginDeleteAndWait(RG, "Microsoft.Kubernetes", "connectedClusters", cluster, "never-existed", { onResponse: missing.onResponse, updateIntervalInMs: 10 });
    t.equal(missing.status, 204, "delete of a missing name answers 204");
  });
}

t.test("the recorded traffic passes oav validate-traffic against the reference swaggers", async (t) => {
  const scc = (version: string) => (p: { liveRequest: { url: string } }) =>
    p.liveRequest.url.includes("sourceControlConfigurations") && p.liveRequest.url.includes(`api-version=${version}`);
  const cases = [
    { version: "2024-11-01", spec: SCC_2024 },
    { version: "2021-03-01", spec: SCC_2021 },
    { version: "2023-05-01", spec: specForVersion(work, "2023-05-01") },
  ];
  for (const { version, spec } of cases) {
    const dir = path.join(work, `traffic-${version}`);
    const written = recorder.writeTo(dir, scc(version));
    t.ok(written >= 10, `${version}: ${written} request/response pairs recorded`);
    const report = await validateTraffic(dir, spec, work);
    t.equal(report.exitCode, 0, `${version}: oav exit code`);
    t.same(report.errors, [], `${version}: no errors`);
    t.equal(report.coveredOperations, 4, `${version}: all four operations covered (traffic was not silently skipped)`);
  }
});
