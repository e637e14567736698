/**
 * ConnectedCluster_Update (PATCH) with the official, unmodified `@azure/arm-hybridkubernetes` client at
 * its default api-version (2021-10-01) and at 2024-01-01: tags replaced, everything else kept, the
 * result visible to GET. The recorded PATCH traffic passes `oav validate-traffic` against the official
 * swagger of each api-version.
 */
import path from "node:path";
import t from "tap";
import { ConnectedKubernetesClient } from "@azure/arm-hybridkubernetes";
import type { TokenCredential } from "@azure/core-auth";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { agentPublicKey, SUB } from "../helpers/fixtures.js";
import { TrafficRecorder, type TrafficPair } from "../helpers/traffic.js";
import { connectedClustersSpec, validateTraffic } from "../helpers/oav.js";

const RG = "rg-patch";
let server: TestServer;
let credential: TokenCredential;
const recorder = new TrafficRecorder();
const work = tempDir("kcrp-patch-sdk-");

t.before(async () => {
  server = await startServer();
  credential = { getToken: async () => ({ token: server.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
});
t.teardown(() => server.close());

const clientFor = (apiVersion?: string) =>
  new ConnectedKubernetesClient(credential, SUB, {
    endpoint: server.url,
    tlsOptions: { ca: server.ca },
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ policy: recorder.policy(), position: "perRetry" as const }],
    ...(apiVersion ? { apiVersion } : {}),
  });

const VERSIONS = [
  { label: "SDK default (2021-10-01)", option: undefined, wire: "2021-10-01" },
  { label: "2024-01-01", option: "2024-01-01", wire: "2024-01-01" },
] as const;

for (const { label, option, wire } of VERSIONS) {
  t.test(`connectedClusterOperations.update with tags at ${label}`, async (t) => {
    const hk = clientFor(option);
    const name = `patched-${wire.replace(/-/g, "")}`;
    const key = agentPublicKey().publicKeyB64;
    await hk.connectedClusterOperations.beginCreateAndWait(RG, name, {
      location: "eastus",
      identity: { type: "SystemAssigned" },
      tags: { env: "dev", owner: "team-a" },
      agentPublicKeyCertificate: key,
      distribution: "k3s",
      infrastructure: "generic",
    });
    let status = 0;
    const updated = await hk.connectedClusterOperations.update(RG, name, { tags: { env: "prod", ring: "1" } }, { onResponse: (raw) => void (status = raw.status) });
    t.equal(status, 200);
    t.same(updated.tags, { env: "prod", ring: "1" }, "the tag set is replaced as a whole");
    t.equal(updated.agentPublicKeyCertificate, key, "what the patch does not name is kept");
    t.equal(updated.distribution, "k3s");
    t.equal(updated.infrastructure, "generic");
    t.equal(updated.location, "eastus");
    t.equal(updated.identity.type, "SystemAssigned");
    t.equal(updated.provisioningState, "Succeeded");
    const got = await hk.connectedClusterOperations.get(RG, name);
    t.same(got.tags, { env: "prod", ring: "1" }, "GET shows the patched tags");

    if (wire === "2024-01-01") {
      // ConnectedClusterPatchProperties of 2024-01-01 names distribution
      const redistributed = await hk.connectedClusterOperations.update(RG, name, { properties: { distribution: "aks" } });
      t.equal(redistributed.distribution, "aks");
      t.same(redistributed.tags, { env: "prod", ring: "1" }, "a patch without tags keeps them");
    }
    const patches = recorder.pairs.filter((p) => p.liveRequest.method === "PATCH" && p.liveRequest.url.includes(`/${name}?`));
    t.ok(patches.length > 0 && patches.every((p) => p.liveRequest.url.includes(`api-version=${wire}`)), `the SDK sent api-version=${wire}`);
  });
}

t.test("the recorded PATCH traffic passes oav validate-traffic against the official swaggers", async (t) => {
  for (const { wire } of VERSIONS) {
    const ofVersion = (p: TrafficPair) => p.liveRequest.method === "PATCH" && p.liveRequest.url.includes(`api-version=${wire}`);
    const dir = path.join(work, `traffic-${wire}`);
    const written = recorder.writeTo(dir, ofVersion);
    t.ok(written >= 1, `${wire}: ${written} PATCH request/response pairs recorded`);
    const report = await validateTraffic(dir, connectedClustersSpec(wire), work);
    t.equal(report.exitCode, 0, `${wire}: oav exit code`);
    t.same(report.errors, [], `${wire}: no errors`);
    t.equal(report.coveredOperations, 1, `${wire}: ConnectedCluster_Update covered (the traffic was not silently skipped)`);
    t.match(report.passedOperationsList, [{ operationIds: ["ConnectedCluster_Update"] }], `${wire}: passed`);
  }
});
