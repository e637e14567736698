/**
 * Key Vault references on one configuration, end to end over HTTPS with the real SecretClient against
 * the secrets stand-in and a reference agent: the contract (preview api-version only, malformed
 * references 400, values and references together 400, vaults of other subscriptions or off the
 * allow-list 403), resolution (the agent unseals the vault's value, reports the version it applied, the
 * status shows it), rotation without an ARM call, failure (disabled secret: Failed naming vault and
 * secret, the cluster keeps what it had, recovery), the audit lines, and no value in any response or log.
 */
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { sshPublicKeyOf } from "../../src/agent/ssh-public-key.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";
import { settle } from "../helpers/reconciler.js";
import type { FakeSecretVault } from "./fake-secret-vault.js";

const OTHER_SUB = "00000000-0000-0000-0000-0000000000ff";
let kv: FakeSecretVault;
let server: TestServer;
let request: ReturnType<typeof client>;

t.before(async () => {
  const vault = await startSecretVault();
  kv = vault.kv;
  server = await startServer({ keyVault: { reader: vault.reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`, "/subscriptions/00000000-0000-0000-0000-0000000000aa=*"] } });
  request = client(server.url, server.ca, server.token);
});
t.teardown(async () => {
  await server.close();
  await kv.stop();
});

const at = (path: string, api = PREVIEW_API) => `${path}?api-version=${api}`;
const ref = (secretName: string, extra: Record<string, unknown> = {}) => ({ keyVaultResourceId: vaultId("fleet-kv"), secretName, ...extra });

async function agentFor(cluster: string) {
  const key = generateAgentKey("ec");
  const put = await request(at(clusterPath(cluster), "2024-01-01"), { method: "PUT", body: clusterBody(key.publicKeyB64) });
  if (put.status !== 201 && put.status !== 200) throw new Error(put.text);
  const privateKey = loadAgentKey(key.privateKeyPem);
  return new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: put.json.id, privateKey, ca: server.ca }), privateKey, outDir: tempDir("kv-agent-") });
}

t.test("the contract: preview api-version only, shapes, values beside references, trust", async (t) => {
  await agentFor("c-contract");
  const path = configurationPath("c-contract", "cfg");
  const official = await request(at(path, "2024-11-01"), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: ref("deploy-key") } }) });
  t.equal(official.status, 400, "not part of an official api-version");
  t.equal(official.json.error.code, "InvalidRequestContent");

  const bad = [
    [{ sshPrivateKey: { keyVaultResourceId: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/kv", secretName: "k" } }, /keyVaultResourceId/],
    [{ sshPrivateKey: { keyVaultResourceId: vaultId("ab"), secretName: "k" } }, /keyVaultResourceId/],
    [{ sshPrivateKey: ref("no_underscores") }, /secretName/],
    [{ sshPrivateKey: ref("k", { secretVersion: "v1" }) }, /secretVersion/],
    [{ sshPrivateKey: ref("k"), sshPublicKey: ref("k") }, /sshPublicKey/],
    [{ httpsUser: ref("u"), httpsKey: ref("k") }, /httpsUser/],
  ] as const;
  for (const [refs, target] of bad) {
    const res = await request(at(path), { method: "PUT", body: configurationBody({ keyVaultReferences: refs }) });
    t.equal(res.status, 400, `${JSON.stringify(refs)}: ${res.text.slice(0, 200)}`);
    t.match(JSON.stringify(res.json.error), target);
  }
  const both = await request(at(path), { method: "PUT", body: configurationBody({ configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() }, keyVaultReferences: { sshPrivateKey: ref("k") } }) });
  t.equal(both.status, 400, "a value and a reference for the same setting");
  t.match(both.json.error.message, /both as a value/);
  t.notMatch(both.text, /LS0t/, "the value is not echoed");
  const mixed = await request(at(path), { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64(), keyVaultReferences: { sshPrivateKey: ref("k") } }) });
  t.equal(mixed.status, 400, "references and values are not mixed in one configuration");

  const other = await request(at(path), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv", OTHER_SUB), secretName: "k" } } }) });
  t.equal(other.status, 403, "a vault of another subscription");
  t.equal(other.json.error.code, "KeyVaultReferenceNotAllowed");
  const unlisted = await request(at(path), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: ref("k", { keyVaultResourceId: vaultId("team-kv") }) } }) });
  t.equal(unlisted.status, 403, "a vault of the subscription that is not on the allow-list");
  t.match(unlisted.json.error.message, /may not reference the Key Vault/);

  const ok = await request(at(path), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: ref("missing-secret") } }) });
  t.equal(ok.status, 201, ok.text);
  t.same(ok.json.properties.keyVaultReferences, { sshPrivateKey: ref("missing-secret") });
  t.equal(ok.json.properties.keyVaultReferencesStatus.state, "Resolving", "PUT does not read the vault (decided: docs/design/keyvault-references.md)");
  const old = await request(at(path, "2024-11-01"));
  t.equal(old.status, 200);
  t.notOk("keyVaultReferences" in old.json.properties, "official api-versions keep the official schema");
  t.notOk("keyVaultReferencesStatus" in old.json.properties);

  // the missing secret shows as a failure naming vault and secret once the resolver has tried
  await server.keyVaultResolver?.runOnce();
  const failed = await request(at(path));
  t.equal(failed.json.properties.complianceStatus.complianceState, "Failed");
  t.match(failed.json.properties.complianceStatus.message, /vault 'fleet-kv', secret 'missing-secret': the secret \(or that version\) does not exist/);
  t.equal(failed.json.properties.keyVaultReferencesStatus.state, "Failed");

  // assignments: references accepted, values still refused
  const refAssignment = await request(withApi(assignmentPath("kv-baseline")), { method: "PUT", body: assignmentBody({}, { repositoryUrl: "git@github.com:example/fleet.git", keyVaultReferences: { sshPrivateKey: ref("fleet-key") } }) });
  t.equal(refAssignment.status, 201, refAssignment.text);
  t.same(refAssignment.json.properties.configuration.keyVaultReferences, { sshPrivateKey: ref("fleet-key") });
  const valueAssignment = await request(withApi(assignmentPath("kv-values")), { method: "PUT", body: assignmentBody({}, { repositoryUrl: "git@github.com:example/fleet.git", configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() } }) });
  t.equal(valueAssignment.status, 400);
  t.equal(valueAssignment.json.error.code, "SensitiveInputNotAllowed");
  const foreign = await request(withApi(assignmentPath("kv-foreign")), { method: "PUT", body: assignmentBody({}, { repositoryUrl: "git@github.com:example/fleet.git", keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("x-kv", OTHER_SUB), secretName: "k" } } }) });
  t.equal(foreign.status, 403);
  // a secret the service cannot read: the assignment's compliance results show each cluster Failed, naming it
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  const results = await request(withApi(`${assignmentPath("kv-baseline")}/complianceResults`));
  t.equal(results.status, 200);
  t.ok(results.json.value.length >= 1);
  for (const r of results.json.value) {
    t.equal(r.complianceState, "Failed", r.clusterId);
    t.match(r.message, /vault 'fleet-kv', secret 'fleet-key': the secret \(or that version\) does not exist/);
  }
  t.equal((await request(withApi(assignmentPath("kv-baseline")), { method: "DELETE" })).status, 202);
  await settle(server);
});

t.test("resolution, rotation without an ARM call, failure and recovery", async (t) => {
  const first = sshPrivateKeyB64();
  const v1 = kv.set("fleet-kv", "deploy-key", first);
  const agent = await agentFor("c-rotate");
  const path = configurationPath("c-rotate", "cfg");
  const put = await request(at(path), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: ref("deploy-key") } }) });
  t.equal(put.status, 201, put.text);

  let polled = await agent.runOnce();
  t.same(polled.applied, [], "held back until the service has read the secret: never applied without it");
  const report = await server.keyVaultResolver?.runOnce();
  t.ok(report && report.written >= 1, "the resolver wrote the configuration's secrets");
  polled = await agent.runOnce();
  t.same(polled.applied, ["cfg"]);
  let got = await request(at(path));
  t.equal(got.json.properties.repositoryPublicKey, sshPublicKeyOf(first, "flux-cfg"), "the agent unsealed the vault's key (its public half is what it reports)");
  t.same(got.json.properties.keyVaultReferencesStatus.resolvedVersions, { sshPrivateKey: v1 });
  t.same(got.json.properties.keyVaultReferencesStatus.appliedVersions, { sshPrivateKey: v1 }, "the version the cluster applied");
  t.equal(got.json.properties.complianceStatus.complianceState, "Installed");
  const generation = (await agent.runOnce()).status;
  t.equal(generation, 304, "nothing new");

  // rotation: a new version in the vault, no ARM call
  const second = sshPrivateKeyB64();
  const v2 = kv.set("fleet-kv", "deploy-key", second);
  await new Promise((r) => setTimeout(r, 1100));
  await server.keyVaultResolver?.runOnce();
  polled = await agent.runOnce();
  t.same(polled.applied, ["cfg"], "the agent applied the new version under the same generation");
  got = await request(at(path));
  t.equal(got.json.properties.repositoryPublicKey, sshPublicKeyOf(second, "flux-cfg"));
  t.same(got.json.properties.keyVaultReferencesStatus.appliedVersions, { sshPrivateKey: v2 });

  // the current version disabled: Failed naming vault and secret; the cluster keeps what it has
  kv.disable("fleet-kv", "deploy-key", v2);
  await new Promise((r) => setTimeout(r, 1100));
  await server.keyVaultResolver?.runOnce();
  got = await request(at(path));
  t.equal(got.json.properties.complianceStatus.complianceState, "Failed");
  t.match(got.json.properties.complianceStatus.message, /vault 'fleet-kv', secret 'deploy-key': the secret version is disabled/);
  t.same(got.json.properties.keyVaultReferencesStatus.resolvedVersions, { sshPrivateKey: v2 }, "the values held are still the last ones read");
  polled = await agent.runOnce();
  t.same(polled.applied, [], "nothing half-applied: the cluster keeps its copy");

  // the vault recovers (a new version): resolved and delivered again
  const third = sshPrivateKeyB64();
  const v3 = kv.set("fleet-kv", "deploy-key", third);
  await new Promise((r) => setTimeout(r, 1100));
  await server.keyVaultResolver?.runOnce();
  polled = await agent.runOnce();
  t.same(polled.applied, ["cfg"]);
  got = await request(at(path));
  t.equal(got.json.properties.complianceStatus.complianceState, "Installed");
  t.same(got.json.properties.keyVaultReferencesStatus.appliedVersions, { sshPrivateKey: v3 });

  // a version whose value cannot serve the setting (not a private key): Failed naming it, the cluster keeps v3
  const v4 = kv.set("fleet-kv", "deploy-key", Buffer.from("not a key").toString("base64"));
  await new Promise((r) => setTimeout(r, 1100));
  await server.keyVaultResolver?.runOnce();
  got = await request(at(path));
  t.equal(got.json.properties.complianceStatus.complianceState, "Failed");
  t.match(got.json.properties.complianceStatus.message, new RegExp(`secret 'deploy-key', version '${v4}': its value is not a usable SSH private key`));
  t.same((await agent.runOnce()).applied, [], "nothing new for the cluster");
  kv.disable("fleet-kv", "deploy-key", v4);

  // audit: one line per vault read, names and versions, never a value
  const audits = server.logs.filter((l) => l.includes('"audit":"keyVaultSecretRead"'));
  t.ok(audits.some((l) => l.includes(v1) && l.includes('"secret":"deploy-key"') && l.includes('"vault":"fleet-kv"') && l.includes('"clusters":1')), "the read of v1 audited");
  const all = server.logs.join("\n");
  for (const value of [first, second, third]) t.notOk(all.includes(value), "no value in the logs");
});

t.test("an assignment's change of other properties keeps the copy: the cluster is never left without its key", async (t) => {
  const value = sshPrivateKeyB64();
  kv.set("fleet-kv", "assigned-key", value);
  const agent = await agentFor("c-assigned");
  const cluster = await request(at(clusterPath("c-assigned"), "2024-01-01"));
  t.equal((await request(at(clusterPath("c-assigned"), "2024-01-01"), { method: "PUT", body: { ...clusterBody(cluster.json.properties.agentPublicKeyCertificate), tags: { ring: "kv" } } })).status, 200);
  const body = (operatorParams: string) =>
    assignmentBody({ configurationName: "assigned", clusterSelector: { tags: { ring: "kv" } } }, { repositoryUrl: "git@github.com:example/fleet.git", operatorInstanceName: "assigned", operatorParams, keyVaultReferences: { sshPrivateKey: ref("assigned-key") } });
  t.equal((await request(withApi(assignmentPath("kv-assigned")), { method: "PUT", body: body("--git-readonly") })).status, 201);
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same((await agent.runOnce()).applied, ["assigned"]);
  // a change of operatorParams only: a new generation, the same references
  t.equal((await request(withApi(assignmentPath("kv-assigned")), { method: "PUT", body: body("--git-readonly --git-branch=v2") })).status, 200);
  await settle(server);
  const polled = await agent.runOnce(); // before any resolver pass
  t.same(polled.applied, ["assigned"], "the new generation is applied at once, with the copy already read");
  const got = await request(at(configurationPath("c-assigned", "assigned")));
  t.equal(got.json.properties.operatorParams, "--git-readonly --git-branch=v2");
  t.equal(got.json.properties.repositoryPublicKey, sshPublicKeyOf(value, "flux-assigned"), "and the key");
});
