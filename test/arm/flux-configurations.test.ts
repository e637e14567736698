/**
 * fluxConfigurations over HTTP (issue #16): meaning is validated, not only shape (URL rule, keys,
 * known_hosts, refs, kustomization graph, create-only properties); unsupported source kinds get a 400
 * naming them; PATCH is a merge (null removes, protected settings kept unless named); protected settings
 * never leave (responses, logs); and Azure's rule that a cluster carries Flux v1 or v2, not both (409
 * naming the migrate action), both ways.
 */
import t from "tap";
import { agentPublicKey, b64, clusterBody, clusterPath, configurationBody, configurationPath, fluxConfigurationBody, fluxConfigurationPath, fluxConfigurationsPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { startServer, type TestServer } from "../helpers/server.js";

const V = "api-version=2024-11-01";
let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer();
  http = client(server.url, server.ca, server.token);
  for (const name of ["fx", "v1only", "mixed"]) {
    const res = await http(`${clusterPath(name)}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agentPublicKey().publicKeyB64) });
    if (res.status !== 201) throw new Error(res.text);
  }
});
t.teardown(() => server.close());

const put = (cluster: string, name: string, body: unknown) => http(`${fluxConfigurationPath(cluster, name)}?${V}`, { method: "PUT", body });
const props = (overrides: Record<string, unknown>) => fluxConfigurationBody(overrides).properties;
const git = (overrides: Record<string, unknown>) => ({ ...(props({}).gitRepository as Record<string, unknown>), ...overrides });

t.test("refusals name what is wrong (400), never quoting a secret", async (t) => {
  const cases: Array<[string, unknown, string, string]> = [
    ["bucket source", { properties: { ...props({}), sourceKind: "Bucket", bucket: { url: "https://s3.example", bucketName: "b" } } }, "SourceKindNotSupported", "properties.sourceKind"],
    ["oci source", { properties: { ...props({}), sourceKind: "OCIRepository" } }, "SourceKindNotSupported", "properties.sourceKind"],
    ["azure blob object", { properties: { ...props({}), azureBlob: { url: "https://a.blob.core.windows.net" } } }, "SourceKindNotSupported", "properties.azureBlob"],
    ["scp-like url", { properties: props({ gitRepository: git({ url: "git@github.com:example/repo.git" }) }) }, "InvalidParameter", "properties.gitRepository.url"],
    ["url with a password", { properties: props({ gitRepository: git({ url: "https://user:hunter2@github.com/example/repo.git", sshKnownHosts: undefined }), configurationProtectedSettings: undefined }) }, "InvalidParameter", "properties.gitRepository.url"],
    ["option-shaped host", { properties: props({ gitRepository: git({ url: "ssh://-oProxyCommand=x/repo" }) }) }, "InvalidParameter", "properties.gitRepository.url"],
    ["no repositoryRef", { properties: props({ gitRepository: git({ repositoryRef: undefined }) }) }, "InvalidParameter", "properties.gitRepository.repositoryRef"],
    ["commit without branch", { properties: props({ gitRepository: git({ repositoryRef: { commit: "0123456789abcdef0123456789abcdef01234567" } }) }) }, "InvalidParameter", "properties.gitRepository.repositoryRef.commit"],
    ["bad branch", { properties: props({ gitRepository: git({ repositoryRef: { branch: "-x..y" } }) }) }, "InvalidParameter", "properties.gitRepository.repositoryRef.branch"],
    ["httpsUser as protected", { properties: props({ configurationProtectedSettings: { httpsUser: b64("me") } }) }, "InvalidParameter", "properties.configurationProtectedSettings.httpsUser"],
    ["not a private key", { properties: props({ configurationProtectedSettings: { sshPrivateKey: b64("not a key") } }) }, "InvalidParameter", "properties.configurationProtectedSettings.sshPrivateKey"],
    ["bad known_hosts", { properties: props({ gitRepository: git({ sshKnownHosts: b64("github.com ssh-rsa !!!") }) }) }, "InvalidParameter", "properties.gitRepository.sshKnownHosts"],
    ["ssh key on https", { properties: props({ gitRepository: git({ url: "https://github.com/example/repo.git", sshKnownHosts: undefined }) }) }, "InvalidParameter", "properties.configurationProtectedSettings.sshPrivateKey"],
    ["httpsKey without user", { properties: props({ gitRepository: git({ url: "https://github.com/example/repo.git", sshKnownHosts: undefined }), configurationProtectedSettings: { httpsKey: b64("tok") } }) }, "InvalidParameter", "properties.gitRepository.httpsUser"],
    ["unknown dependency", { properties: props({ kustomizations: { a: { path: "./a", dependsOn: ["nope"] } } }) }, "InvalidParameter", "properties.kustomizations.a.dependsOn"],
    ["cycle", { properties: props({ kustomizations: { a: { path: "./a", dependsOn: ["b"] }, b: { path: "./b", dependsOn: ["a"] } } }) }, "InvalidParameter", "properties.kustomizations"],
    ["path escaping", { properties: props({ kustomizations: { a: { path: "../../etc" } } }) }, "InvalidParameter", "properties.kustomizations.a.path"],
    ["interval 0", { properties: props({ kustomizations: { a: { path: "./a", syncIntervalInSeconds: 0 } } }) }, "InvalidParameter", "properties.kustomizations.a.syncIntervalInSeconds"],
    ["Azure provider", { properties: props({ gitRepository: git({ provider: "Azure" }) }) }, "InvalidParameter", "properties.gitRepository.provider"],
    ["wrong type (schema)", { properties: props({ suspend: "yes" }) }, "InvalidRequestContent", "properties.suspend"],
  ];
  for (const [what, body, code, target] of cases) {
    const res = await put("fx", "refused", body);
    t.equal(res.status, 400, `${what}: 400`);
    t.equal(res.json?.error?.code, code, `${what}: ${code}`);
    const targets = [res.json?.error?.target, ...((res.json?.error?.details ?? []) as Array<{ target?: string }>).map((d) => d.target)];
    t.ok(targets.includes(target), `${what}: names ${target} (${targets.join(", ")})`);
    t.notMatch(res.text, /hunter2|BEGIN PRIVATE KEY/, `${what}: no secret quoted`);
  }
  t.equal((await http(`${fluxConfigurationPath("fx", "refused")}?${V}`)).status, 404, "nothing was created");
  const long = await put("fx", "a".repeat(64), { properties: props({}) });
  t.equal(long.json?.error?.code, "InvalidResourceName", "names longer than 63 are refused");
  const upper = await put("fx", "Bad_Name", { properties: props({}) });
  t.equal(upper.json?.error?.code, "InvalidResourceName", "names are DNS labels");
});

t.test("create, read, merge-patch; protected settings never served nor logged", async (t) => {
  const key = sshPrivateKeyB64();
  const knownHosts = knownHostsB64();
  const created = await put("fx", "cfg", fluxConfigurationBody({ configurationProtectedSettings: { sshPrivateKey: key }, gitRepository: git({ sshKnownHosts: knownHosts }) }));
  t.equal(created.status, 201, created.text);
  t.match(String(created.headers["azure-asyncoperation"]), /\/fluxConfigurations\/cfg\/operations\/[0-9a-f-]{36}\?api-version=2024-11-01$/);
  t.equal(created.json.properties.configurationProtectedSettings, undefined, "x-ms-secret: left out of the response");
  t.equal(created.json.properties.gitRepository.sshKnownHosts, knownHosts);
  t.equal(created.json.properties.provisioningState, "Succeeded");
  t.equal(created.json.properties.complianceState, "Pending");
  t.same(created.json.properties.statuses, []);
  const op = await http(new URL(String(created.headers["azure-asyncoperation"])).pathname + `?${V}`);
  t.equal(op.status, 200);
  t.equal(op.json.status, "Succeeded", "the PUT's operation has succeeded");

  const patched = await http(`${fluxConfigurationPath("fx", "cfg")}?${V}`, { method: "PATCH", body: { properties: { suspend: true, gitRepository: { repositoryRef: { tag: "v1.2.3" } }, kustomizations: { infra: null, apps: { path: "./apps/prod", dependsOn: null } } } } });
  t.equal(patched.status, 202, patched.text);
  t.ok(patched.headers["azure-asyncoperation"]);
  const got = await http(`${fluxConfigurationPath("fx", "cfg")}?${V}`);
  t.equal(got.json.properties.suspend, true);
  t.same(Object.keys(got.json.properties.kustomizations), ["apps"], "a kustomization set to null is removed");
  t.equal(got.json.properties.kustomizations.apps.path, "./apps/prod");
  t.equal(got.json.properties.kustomizations.apps.dependsOn, undefined, "a null removes a property");
  t.same(got.json.properties.gitRepository.repositoryRef, { branch: "main", tag: "v1.2.3" }, "objects merge");
  t.equal(got.json.properties.gitRepository.sshKnownHosts, knownHosts, "known_hosts kept");
  t.equal(got.json.properties.complianceState, "Suspended");
  const old = await http(new URL(String(created.headers["azure-asyncoperation"])).pathname + `?${V}`);
  t.equal(old.json.status, "Succeeded", "the replaced write's operation still answers");

  // the PATCH named no protected settings: the sealed key is still delivered to the agent
  const snapshot = await server.agentServices.desired.get({ subscriptionId: created.json.id.split("/")[2], resourceGroup: "rg1", name: "fx", id: created.json.id.split("/providers/Microsoft.KubernetesConfiguration")[0] } as never);
  const body = JSON.parse(snapshot.json) as { fluxConfigurations: Array<{ name: string; protectedSettings?: string; generation: number }> };
  const mine = body.fluxConfigurations.find((c) => c.name === "cfg");
  t.ok(mine?.protectedSettings, "protected settings kept by the PATCH (sealed to the agent)");
  t.equal(mine?.generation, 2);

  const scope = await http(`${fluxConfigurationPath("fx", "cfg")}?${V}`, { method: "PATCH", body: { properties: { namespace: "other" } } });
  t.equal(scope.status, 400);
  t.equal(scope.json.error.code, "PropertyChangeNotAllowed", "namespace is create-only");

  const list = await http(`${fluxConfigurationsPath("fx")}?${V}`);
  t.equal(list.status, 200);
  t.same(list.json.value.map((v: { name: string }) => v.name), ["cfg"]);
  const everything = [created, got, patched, list].map((r) => r.text).join("\n") + server.logs.join("\n");
  const pem = Buffer.from(key, "base64").toString();
  t.notOk(everything.includes(key), "the key (as sent) is in no response and no log line");
  t.notOk(everything.includes(pem.split("\n")[1] ?? "x"), "nor its PEM body");

  const unknownOp = await http(`${fluxConfigurationPath("fx", "cfg")}/operations/00000000-0000-0000-0000-000000000000?${V}`);
  t.equal(unknownOp.status, 404);
  t.equal(unknownOp.json.error.code, "OperationNotFound");
});

t.test("a cluster carries Flux v1 or Flux v2, not both (409 saying how to migrate)", async (t) => {
  const v1 = await http(`${configurationPath("v1only", "legacy")}?${V}`, { method: "PUT", body: configurationBody() });
  t.equal(v1.status, 201, v1.text);
  const refused = await put("v1only", "new", fluxConfigurationBody());
  t.equal(refused.status, 409);
  t.equal(refused.json.error.code, "FluxVersionConflict");
  t.match(refused.json.error.message, "migrateToFluxV2?api-version=2026-12-01-preview", "names the migrate action");
  t.match(refused.json.error.message, "'legacy'", "names a v1 configuration");

  const v2 = await put("mixed", "modern", fluxConfigurationBody());
  t.equal(v2.status, 201, v2.text);
  const v1refused = await http(`${configurationPath("mixed", "legacy")}?${V}`, { method: "PUT", body: configurationBody() });
  t.equal(v1refused.status, 409);
  t.equal(v1refused.json.error.code, "FluxVersionConflict");
  t.match(v1refused.json.error.message, "'modern'");

  // deleting the v1 configuration (its tombstone waits for the agent) frees the cluster for v2
  t.equal((await http(`${configurationPath("v1only", "legacy")}?${V}`, { method: "DELETE" })).status, 200);
  t.equal((await put("v1only", "new", fluxConfigurationBody())).status, 201, "v2 accepted once no live v1 configuration remains");
});

t.test("DELETE: asynchronous until the agent removes the objects; forceDelete at once; 204 when absent", async (t) => {
  t.equal((await put("fx", "gone", fluxConfigurationBody())).status, 201);
  const del = await http(`${fluxConfigurationPath("fx", "gone")}?${V}`, { method: "DELETE" });
  t.equal(del.status, 202);
  const status = await http(new URL(String(del.headers["azure-asyncoperation"])).pathname + `?${V}`);
  t.equal(status.json.status, "Deleting", "runs until the agent reports the objects removed");
  t.equal((await http(`${fluxConfigurationPath("fx", "gone")}?${V}`)).status, 404, "the resource is gone from ARM's view at once");
  const again = await http(`${fluxConfigurationPath("fx", "gone")}?${V}`, { method: "DELETE" });
  t.equal(again.status, 202, "a second delete joins the running one");
  t.equal(again.headers["azure-asyncoperation"], del.headers["azure-asyncoperation"]);
  const forced = await http(`${fluxConfigurationPath("fx", "gone")}?${V}&forceDelete=true`, { method: "DELETE" });
  t.equal(forced.status, 204, "forceDelete of a tombstone removes it (nothing left to show)");
  const after = await http(new URL(String(del.headers["azure-asyncoperation"])).pathname + `?${V}`);
  t.equal(after.json.status, "Succeeded", "the delete's operation then answers Succeeded");
  t.equal((await http(`${fluxConfigurationPath("fx", "never")}?${V}`, { method: "DELETE" })).status, 204);
});
