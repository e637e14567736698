/**
 * Flux v2 assignments (issue #16, "Assignments"), the rules, over HTTPS on SQLite:
 * - the body: exactly one of configuration / fluxConfiguration; no protected settings, no known_hosts, no Key
 *   Vault references (400, saying why and what to use instead); the fluxConfiguration's own rules, targeted
 *   under properties.fluxConfiguration;
 * - the rollout never makes a mixed cluster: a cluster holding Flux v1 configurations the assignment does not
 *   manage gets no fluxConfiguration and shows Failed naming the migrate action (whatIf: Conflict); a Flux v1
 *   assignment no longer creates its configuration on a cluster carrying fluxConfigurations (Failed, saying so);
 * - a managed fluxConfiguration refuses a user's PUT and DELETE (409 ManagedByConfigurationAssignment);
 * - the migrate action on an assignment-managed v1 configuration: 409 saying to switch the assignment;
 * - deleting a Flux v2 assignment removes the fluxConfigurations it manages, and only those.
 */
import t from "tap";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationPath, fluxConfigurationBody, fluxConfigurationPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { assignmentBody, assignmentPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";

const FLUX_API = "2024-11-01";
const MIGRATE_API = "2026-12-01-preview";
const RG = "rg1";

/** a Flux v2 assignment body: a public https repository, two kustomizations */
export function fluxAssignmentBody(overrides: Record<string, unknown> = {}, flux: Record<string, unknown> = {}) {
  return {
    properties: {
      configurationName: "baseline",
      fluxConfiguration: {
        scope: "cluster",
        namespace: "flux-baseline",
        sourceKind: "GitRepository",
        gitRepository: { url: "https://github.com/example/fleet-baseline.git", repositoryRef: { branch: "main" }, syncIntervalInSeconds: 300 },
        kustomizations: { infra: { path: "./infrastructure", prune: true }, apps: { path: "./apps", dependsOn: ["infra"] } },
        ...flux,
      },
      ...overrides,
    },
  };
}

let server: TestServer;
let http: ReturnType<typeof client>;
t.before(async () => {
  server = await startServer({ assignments: { batchSize: 10 } });
  http = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

const cluster = async (name: string, tags: Record<string, string> = { ring: "prod" }) => {
  const res = await http(withApi(clusterPath(name), CLUSTER_API), { method: "PUT", body: clusterBody(undefined, { tags }) });
  if (res.status !== 201) throw new Error(res.text);
  return res.json.id as string;
};
const results = async (name: string) => {
  const res = await http(withApi(`${assignmentPath(name, RG)}/complianceResults`));
  return new Map((res.json.value as Array<{ clusterId: string; complianceState: string; message: string; configurationId?: string }>).map((r) => [r.clusterId.split("/").at(-1) as string, r]));
};

t.test("the body: exactly one kind, no secrets, no Key Vault references (yet), the fluxConfiguration's own rules", async (t) => {
  const url = withApi(assignmentPath("shapes", RG));
  const put = (body: unknown) => http(url, { method: "PUT", body });
  const both = await put({ properties: { ...fluxAssignmentBody().properties, configuration: assignmentBody().properties.configuration } });
  t.equal(both.status, 400);
  t.match(both.json.error.message, /either 'configuration' .* or 'fluxConfiguration' .*not both/);
  const neither = await put({ properties: { configurationName: "baseline" } });
  t.equal(neither.status, 400);
  t.match(neither.json.error.message, /'configuration' \(Flux v1\) or 'fluxConfiguration' \(Flux v2\) is required/);
  const key = sshPrivateKeyB64();
  const withKey = await put(fluxAssignmentBody({}, { gitRepository: { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main" } }, configurationProtectedSettings: { sshPrivateKey: key } }));
  t.equal(withKey.status, 400);
  t.match(withKey.json.error, { code: "SensitiveInputNotAllowed", target: "properties.fluxConfiguration.configurationProtectedSettings" });
  t.notOk(withKey.text.includes(key), "the key is not echoed");
  const withHosts = await put(fluxAssignmentBody({}, { gitRepository: { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main" }, sshKnownHosts: knownHostsB64() } }));
  t.match(withHosts.json.error, { code: "SensitiveInputNotAllowed", target: "properties.fluxConfiguration.gitRepository.sshKnownHosts" });
  const withRefs = await put(fluxAssignmentBody({}, { keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: `/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv`, secretName: "k" } } }));
  t.equal(withRefs.status, 400);
  t.match(withRefs.json.error, { target: "properties.fluxConfiguration.keyVaultReferences", message: /Key Vault references are not supported in a Flux v2 assignment yet/ });
  const badUrl = await put(fluxAssignmentBody({}, { gitRepository: { url: "http://git.example.com/fleet", repositoryRef: { branch: "main" } } }));
  t.equal(badUrl.status, 400);
  t.match(badUrl.json.error.target, /^properties\.fluxConfiguration\.gitRepository\.url$/, "a fluxConfiguration rule, targeted under properties.fluxConfiguration");
  const badDeps = await put(fluxAssignmentBody({}, { kustomizations: { apps: { path: "./apps", dependsOn: ["nope"] } } }));
  t.equal(badDeps.status, 400);
  t.match(JSON.stringify(badDeps.json.error), /properties\.fluxConfiguration\.kustomizations/);
  const longName = await put(fluxAssignmentBody({ configurationName: "a".repeat(60) }));
  t.equal(longName.status, 400, "the Flux objects' names (<configuration>-<kustomization>) must fit");
  // hostile shapes: a 400 each, never a 5xx
  for (const flux of [[], "x", 5, { gitRepository: 5 }, { gitRepository: null, kustomizations: null }, { kustomizations: { a: null } }, { kustomizations: 7 }, { gitRepository: { url: "https://github.com/x/y", repositoryRef: { branch: "main" } }, kustomizations: { a: { path: "../../etc" } } }, { sourceKind: "Bucket", bucket: {} }, { configurationProtectedSettings: {} , gitRepository: { url: "https://github.com/x/y", repositoryRef: [] } }]) {
    const res = await put({ properties: { configurationName: "baseline", fluxConfiguration: flux } });
    t.equal(res.status, 400, `${JSON.stringify(flux)}: ${res.text.slice(0, 300)}`);
  }
  const ok = await put(fluxAssignmentBody({ configurationName: "Baseline" }));
  t.equal(ok.status, 201, ok.text);
  t.match(ok.json.properties, { configurationName: "Baseline", fluxConfiguration: { scope: "cluster", namespace: "flux-baseline", sourceKind: "GitRepository", suspend: false, gitRepository: { url: "https://github.com/example/fleet-baseline.git", repositoryRef: { branch: "main" }, syncIntervalInSeconds: 300, timeoutInSeconds: 600 }, kustomizations: { infra: { name: "infra", path: "./infrastructure", prune: true }, apps: { dependsOn: ["infra"] } } } }, "defaults filled in and shown");
  t.notOk("configuration" in ok.json.properties);
  t.equal((await http(withApi(assignmentPath("shapes", RG)), { method: "DELETE" })).status, 202);
  await settle(server);
});

t.test("never a mixed cluster; managed fluxConfigurations are the assignment's; deletion removes them", async (t) => {
  const plain = await cluster("c-plain");
  await cluster("c-user-v1");
  await cluster("c-user-v2");
  await cluster("c-dev", { ring: "dev" });
  // a user's Flux v1 configuration of another name, and a user's fluxConfiguration of another name
  t.equal((await http(withApi(configurationPath("c-user-v1", "team-apps"), SCC_API), { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/team-apps" } } })).status, 201);
  const { configurationProtectedSettings: _k, ...userFlux } = fluxConfigurationBody({ gitRepository: { url: "https://github.com/example/team-v2", repositoryRef: { branch: "main" } } }).properties;
  t.equal((await http(withApi(fluxConfigurationPath("c-user-v2", "team-v2"), FLUX_API), { method: "PUT", body: { properties: userFlux } })).status, 201);

  // a Flux v1 assignment: it lands where the cluster has no Flux v2, and nowhere else (the bug this fixes)
  t.equal((await http(withApi(assignmentPath("legacy", RG)), { method: "PUT", body: assignmentBody({ configurationName: "legacy", clusterSelector: { tags: { ring: "prod" } } }) })).status, 201);
  await settle(server);
  t.equal((await http(withApi(configurationPath("c-user-v2", "legacy"), SCC_API))).status, 404, "no Flux v1 configuration created on a Flux v2 cluster");
  t.equal((await http(withApi(configurationPath("c-plain", "legacy"), SCC_API))).status, 200);
  const legacy = await results("legacy");
  t.match(legacy.get("c-user-v2"), { complianceState: "Failed", message: /carries Flux v2 fluxConfigurations \('team-v2'\).*Switch the assignment to Flux v2/ });
  t.equal((await http(withApi(assignmentPath("legacy", RG)), { method: "DELETE" })).status, 202);
  await settle(server);

  // the Flux v2 assignment
  const url = withApi(assignmentPath("fleet", RG));
  const what = await http(withApi(`${assignmentPath("fleet", RG)}/whatIf`), { method: "POST", body: fluxAssignmentBody({ clusterSelector: { tags: { ring: "prod" } } }) });
  t.equal(what.status, 404, "whatIf of an assignment that does not exist yet");
  t.equal((await http(url, { method: "PUT", body: fluxAssignmentBody({ clusterSelector: { tags: { ring: "prod" } } }) })).status, 201);
  await settle(server);
  const created = await http(withApi(fluxConfigurationPath("c-plain", "baseline"), FLUX_API));
  t.equal(created.status, 200, "an empty cluster gets the fluxConfiguration");
  t.match(created.json, { systemData: { createdByType: "Application", createdBy: new RegExp("configurationAssignments/fleet$", "i") }, properties: { complianceState: "Pending", gitRepository: { url: "https://github.com/example/fleet-baseline.git" } } });
  t.equal((await http(withApi(fluxConfigurationPath("c-user-v1", "baseline"), FLUX_API))).status, 404, "no fluxConfiguration on a cluster carrying Flux v1 the assignment does not manage");
  t.equal((await http(withApi(configurationPath("c-user-v1", "team-apps"), SCC_API))).status, 200, "the user's v1 configuration is left alone");
  t.equal((await http(withApi(fluxConfigurationPath("c-user-v2", "baseline"), FLUX_API))).status, 200, "beside a user's fluxConfiguration: fine");
  t.equal((await http(withApi(fluxConfigurationPath("c-dev", "baseline"), FLUX_API))).status, 404, "not selected");
  const fleet = await results("fleet");
  t.match(fleet.get("c-user-v1"), { complianceState: "Failed", message: /Flux v1 configurations the assignment does not manage \('team-apps'\).*migrateToFluxV2\?api-version=2026-12-01-preview/ });
  t.match(fleet.get("c-plain"), { complianceState: "Pending", configurationId: `${plain}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline` });
  const stored = await http(withApi(`${assignmentPath("fleet", RG)}/whatIf`), { method: "POST" });
  const byCluster = new Map((stored.json.value as Array<{ clusterId: string; change: string; message?: string }>).map((r) => [r.clusterId.split("/").at(-1), r]));
  t.match(byCluster.get("c-user-v1"), { change: "Conflict", message: /migrateToFluxV2/ });
  t.match(byCluster.get("c-plain"), { change: "NoChange" });

  // the managed fluxConfiguration is the assignment's
  const fluxUrl = withApi(fluxConfigurationPath("c-plain", "baseline"), FLUX_API);
  const userPut = await http(fluxUrl, { method: "PUT", body: { properties: { ...created.json.properties, suspend: true } } });
  t.equal(userPut.status, 409);
  t.match(userPut.json.error, { code: "ManagedByConfigurationAssignment", message: /configurationAssignments\/fleet/i });
  const userDelete = await http(fluxUrl, { method: "DELETE" });
  t.equal(userDelete.status, 409);
  t.equal((await http(`${fluxUrl}&forceDelete=true`, { method: "DELETE" })).status, 409, "forceDelete too");

  // the user's v1 configuration migrated: the cluster is free, the assignment lands there
  const migrated = await http(withApi(`${clusterPath("c-user-v1")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2`, MIGRATE_API), { method: "POST", body: {} });
  t.equal(migrated.status, 200, migrated.text);
  await settle(server);
  t.equal((await http(withApi(fluxConfigurationPath("c-user-v1", "baseline"), FLUX_API))).status, 200, "after the migrate action the assignment creates its fluxConfiguration");

  // deleting the assignment removes what it manages, and only that
  t.equal((await http(url, { method: "DELETE" })).status, 202);
  await settle(server);
  t.equal((await http(url)).status, 404);
  for (const c of ["c-plain", "c-user-v1", "c-user-v2"]) t.equal((await http(withApi(fluxConfigurationPath(c, "baseline"), FLUX_API))).status, 404, `${c}: the managed fluxConfiguration is gone`);
  t.equal((await http(withApi(fluxConfigurationPath("c-user-v2", "team-v2"), FLUX_API))).status, 200, "the user's fluxConfiguration stays");
  t.equal((await http(withApi(fluxConfigurationPath("c-user-v1", "team-apps"), FLUX_API))).status, 200, "and the migrated one");
});

t.test("the migrate action on an assignment-managed Flux v1 configuration: 409, saying to switch the assignment", async (t) => {
  await cluster("c-managed");
  t.equal((await http(withApi(assignmentPath("old", RG)), { method: "PUT", body: assignmentBody({ configurationName: "old", clusterSelector: { tags: { ring: "prod" } } }) })).status, 201);
  await settle(server);
  t.equal((await http(withApi(configurationPath("c-managed", "old"), SCC_API))).status, 200);
  const one = await http(withApi(`${configurationPath("c-managed", "old")}/migrateToFluxV2`, MIGRATE_API), { method: "POST", body: {} });
  t.equal(one.status, 409);
  t.match(one.json.error.message, /managed by the configuration assignment .*configurationAssignments\/old.*Switch the assignment to Flux v2 \(PUT it at api-version 2026-11-01-preview with properties\.fluxConfiguration instead of properties\.configuration/i);
  const dry = await http(withApi(`${configurationPath("c-managed", "old")}/migrateToFluxV2`, MIGRATE_API), { method: "POST", body: { whatIf: true } });
  t.match(dry.json.value[0], { result: "Blocked", message: /Switch the assignment to Flux v2/ });
  const all = await http(withApi(`${clusterPath("c-managed")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2`, MIGRATE_API), { method: "POST", body: {} });
  t.equal(all.status, 409);
  t.match(all.json.error.message, /Switch the assignment to Flux v2/);
  // switched: the assignment's own rollout migrates it
  t.equal((await http(withApi(assignmentPath("old", RG)), { method: "PUT", body: fluxAssignmentBody({ configurationName: "old", clusterSelector: { tags: { ring: "prod" } } }) })).status, 200);
  await settle(server);
  t.equal((await http(withApi(configurationPath("c-managed", "old"), SCC_API))).status, 404, "the v1 configuration retired");
  t.equal((await http(withApi(fluxConfigurationPath("c-managed", "old"), FLUX_API))).status, 200, "the fluxConfiguration created");
  t.equal((await http(withApi(assignmentPath("old", RG)), { method: "DELETE" })).status, 202);
  await settle(server);
});
