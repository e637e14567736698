/**
 * The migrate-to-Flux-v2 actions over HTTPS (openapi/fluxMigration.json, 2026-12-01-preview): whatIf returns
 * the bodies (valid against the official fluxconfiguration.json, no secret in them) and the warnings and
 * changes nothing (same store content, same desired-state version); the actions are served at their own
 * document's api-version only; bodies the schema refuses get 400; a missing configuration 404.
 */
import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { b64, clusterBody, clusterPath, configurationPath, knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { validateFluxConfiguration } from "../helpers/official-flux-schema.js";

const V1 = "api-version=2024-11-01";
const MV = "api-version=2026-12-01-preview";
const CV = "api-version=2024-01-01";

let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer();
  http = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

const migrateCluster = (cluster: string) => `${clusterPath(cluster)}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`;
const migrateOne = (cluster: string, name: string) => `${configurationPath(cluster, name)}/migrateToFluxV2?${MV}`;

async function storeSnapshot(): Promise<string> {
  const all = await server.store.inner.list({ kind: "configuration", partition: SUB.toLowerCase(), includeDeleted: true }, { limit: 1000 });
  const secrets = await server.store.inner.list({ kind: "configurationSecrets", partition: SUB.toLowerCase(), includeDeleted: true }, { limit: 1000 });
  return JSON.stringify([all.items.map((d) => [d.key, d.etag, d.deleted]), secrets.items.map((d) => [d.key, d.etag])]);
}

t.test("whatIf: bodies, warnings, where each secret comes from; nothing changes", async (t) => {
  t.equal((await http(`${clusterPath("c-what")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const key = sshPrivateKeyB64();
  const hosts = knownHostsB64();
  const ssh = await http(`${configurationPath("c-what", "ssh")}?${V1}`, {
    method: "PUT",
    body: { properties: { repositoryUrl: "git@github.com:example/fleet.git", operatorNamespace: "ops", operatorScope: "cluster", operatorParams: "--git-readonly --git-branch=main --git-path=apps,infra --git-poll-interval=1m", configurationProtectedSettings: { sshPrivateKey: key }, sshKnownHostsContents: hosts } },
  });
  t.equal(ssh.status, 201, ssh.text);
  const https = await http(`${configurationPath("c-what", "web")}?${V1}`, {
    method: "PUT",
    body: { properties: { repositoryUrl: "https://github.com/example/web", operatorNamespace: "web", operatorScope: "namespace", operatorParams: "--git-label=sync --manifest-generation", enableHelmOperator: true, configurationProtectedSettings: { httpsUser: b64("bot-user"), httpsKey: b64("pat-secret") } } },
  });
  t.equal(https.status, 201, https.text);
  const before = await storeSnapshot();
  const marker = await server.store.inner.list({ kind: "marker", partition: SUB.toLowerCase() } as never, { limit: 100 }).catch(() => undefined);

  const res = await http(migrateCluster("c-what"), { method: "POST", body: { whatIf: true } });
  t.equal(res.status, 200, res.text);
  t.equal(res.json.whatIf, true);
  t.equal(res.json.value.length, 2);
  for (const secret of [key, b64("bot-user"), "bot-user", b64("pat-secret"), "pat-secret"]) t.notOk(res.text.includes(secret), "no secret in the answer");
  const byName = new Map<string, any>(res.json.value.map((i: any) => [String(i.sourceControlConfigurationId).split("/").at(-1), i]));
  const s = byName.get("ssh");
  t.equal(s.result, "WouldMigrate");
  t.equal(s.fluxConfigurationId, `${clusterPath("c-what")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/ssh`);
  t.same(s.protectedSettings, { carried: ["sshPrivateKey"], supplied: [], missing: [] });
  t.same(s.fluxConfiguration.properties.gitRepository, { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main" }, syncIntervalInSeconds: 60, timeoutInSeconds: 20, sshKnownHosts: hosts });
  t.same(Object.values(s.fluxConfiguration.properties.kustomizations).map((k: any) => k.path), ["./apps", "./infra"]);
  t.ok(s.warnings.some((w: any) => w.code === "GitReadOnly"));
  const w = byName.get("web");
  t.same(w.protectedSettings, { carried: ["httpsUser", "httpsKey"], supplied: [], missing: [] });
  t.same(w.warnings.map((x: any) => x.code).sort(), ["HelmOperator", "HttpsUserInPlainText", "ManifestGeneration", "NoV2Equivalent", "ServerSideApply"]);
  t.equal(w.fluxConfiguration.properties.scope, "namespace");
  for (const item of res.json.value) t.ok(validateFluxConfiguration(item.fluxConfiguration, "strict").valid, "the shown body validates against the official document");

  const one = await http(migrateOne("c-what", "web"), { method: "POST", body: { whatIf: true, fluxConfigurationName: "web-v2" } });
  t.equal(one.status, 200, one.text);
  t.equal(one.json.value.length, 1);
  t.match(one.json.value[0].fluxConfigurationId, /fluxConfigurations\/web-v2$/);
  t.match(one.json.value[0].warnings.find((w: any) => w.code === "ClusterStillHasFluxV1")?.message, /\(ssh\)/, "one configuration of two: the cluster would carry both versions for a while");

  t.equal(await storeSnapshot(), before, "whatIf wrote nothing");
  const after = await server.store.inner.list({ kind: "marker", partition: SUB.toLowerCase() } as never, { limit: 100 }).catch(() => undefined);
  t.same(after?.items.map((d) => d.etag), marker?.items.map((d) => d.etag), "the desired-state version did not move");
  const v1 = await http(`${configurationPath("c-what", "ssh")}?${V1}`);
  t.equal(v1.status, 200, "the v1 configuration is still there");
});

t.test("the actions are served at their document's api-version only; the schema and the names are checked", async (t) => {
  t.equal((await http(`${clusterPath("c-rules")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  t.equal((await http(`${configurationPath("c-rules", "a")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/a" } } })).status, 201);
  const old = await http(`${configurationPath("c-rules", "a")}/migrateToFluxV2?${V1}`, { method: "POST", body: { whatIf: true } });
  t.equal(old.status, 400);
  t.equal(old.json.error.code, "NoRegisteredProviderFound");
  const extra = await http(migrateOne("c-rules", "a"), { method: "POST", body: { whatIf: true, surprise: 1 } });
  t.equal(extra.status, 400);
  t.equal(extra.json.error.code, "InvalidRequestContent");
  const badName = await http(migrateOne("c-rules", "a"), { method: "POST", body: { whatIf: true, fluxConfigurationName: "Not_A_Name" } });
  t.equal(badName.status, 400);
  const missing = await http(migrateOne("c-rules", "nope"), { method: "POST", body: { whatIf: true } });
  t.equal(missing.status, 404);
  t.equal(missing.json.error.code, "ResourceNotFound");
  const badSecret = await http(migrateOne("c-rules", "a"), { method: "POST", body: { whatIf: true, configurationProtectedSettings: { httpsKey: "%%%" } } });
  t.equal(badSecret.status, 400);
  const notHad = await http(migrateOne("c-rules", "a"), { method: "POST", body: { whatIf: true, configurationProtectedSettings: { httpsKey: b64("x") } } });
  t.equal(notHad.status, 200);
  t.equal(notHad.json.value[0].result, "Blocked", "a setting the v1 configuration never had is refused");
  const noCluster = await http(migrateCluster("c-none"), { method: "POST", body: { whatIf: true } });
  t.equal(noCluster.status, 404);
  const get = await http(`${configurationPath("c-rules", "a")}?${MV}`);
  t.not(get.status, 500, "the GET of a configuration keeps its own api-versions");
});
