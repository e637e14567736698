/**
 * An assignment's rollback restores the previous generation's Key Vault references under the right of
 * the principal who asks for the rollback, checked as a PUT of them is (issue #14 review): a writer who
 * may not use the vault cannot bring back references (and a repository URL) their previous author moved
 * away from, re-using that author's right. Real server over HTTPS, dev-authenticator tokens for several
 * principals, the real SecretClient against the secrets stand-in, a reference agent.
 */
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { loadOrCreateDevIdentity } from "../../src/auth/dev-identity.js";
import { Persistence } from "../../src/persistence/index.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationPath, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";
import { settle } from "../helpers/reconciler.js";

const BOB = "bbbbbbbb-0000-4000-8000-000000000002";
const CAROL = "cccccccc-0000-4000-8000-000000000003";

t.test("a rollback to references is the caller's: 403 for a writer who may not use the vault, recorded for one who may", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const dataDir = tempDir("kv-rollback-");
  const identity = await loadOrCreateDevIdentity(dataDir);
  const ALICE = identity.objectId;
  const server = await startServer({ dataDir, keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=${ALICE}|${CAROL}`] } });
  t.teardown(() => server.close());
  const bob = await identity.mint({ claims: { oid: BOB, upn: "bob@contoso.example", name: "Bob" } });
  const carol = await identity.mint({ claims: { oid: CAROL, upn: "carol@contoso.example", name: "Carol" } });
  const request = client(server.url, server.ca, server.token);
  const value = sshPrivateKeyB64();
  kv.set("fleet-kv", "deploy-key", value);

  const key = generateAgentKey("ec");
  const cluster = await request(`${clusterPath("c-rollback")}?api-version=2024-01-01`, { method: "PUT", body: { ...clusterBody(key.publicKeyB64), tags: { ring: "rb" } } });
  t.equal(cluster.status, 201, cluster.text);
  const privateKey = loadAgentKey(key.privateKeyPem);
  const agent = new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: cluster.json.id, privateKey, ca: server.ca }), privateKey, outDir: tempDir("kv-rollback-agent-") });

  const path = withApi(assignmentPath("kv-rollback"));
  const selector = { configurationName: "assigned", clusterSelector: { tags: { ring: "rb" } } };
  // generation 1, by Carol: a private repository, its key from the vault
  const withRefs = assignmentBody(selector, { repositoryUrl: "git@old-host.example:fleet/config.git", operatorInstanceName: "assigned", keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "deploy-key" } } });
  t.equal((await request(path, { method: "PUT", body: withRefs, token: carol })).status, 201);
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same((await agent.runOnce()).applied, ["assigned"]);
  // generation 2, by Alice: away from that repository host, no references
  t.equal((await request(path, { method: "PUT", body: assignmentBody(selector, { operatorInstanceName: "assigned" }) })).status, 200);
  await settle(server);
  t.same((await agent.runOnce()).applied, ["assigned"]);

  // Bob may write assignments but not use the vault: he cannot bring Carol's references back under her right
  const byBob = await request(withApi(`${assignmentPath("kv-rollback")}/rollback`), { method: "POST", body: {}, token: bob });
  t.equal(byBob.status, 403, byBob.text);
  t.equal(byBob.json.error?.code, "KeyVaultReferenceNotAllowed");
  t.notMatch(byBob.text, new RegExp(`${CAROL}|${ALICE}`, "i"), "names neither the previous author nor who else may");
  const after = await request(path);
  t.equal(after.json.properties.configuration.repositoryUrl, "https://github.com/example/fleet-baseline.git", "nothing rolled back");
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same((await agent.runOnce()).applied, [], "nothing new reaches the cluster");

  // Alice may: the rollback restores the references under her right, not Carol's
  const byAlice = await request(withApi(`${assignmentPath("kv-rollback")}/rollback`), { method: "POST", body: {} });
  t.equal(byAlice.status, 202, byAlice.text);
  const repo = new Persistence(server.store, server.codec);
  const restored = await repo.assignments.get(SUB, assignmentPath("kv-rollback"));
  t.equal(restored?.record.spec.configuration?.keyVaultPrincipal?.objectId, ALICE.toLowerCase(), "the rollback's caller is the references' principal");
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same((await agent.runOnce()).applied, ["assigned"], "delivered under Alice's right");
  const got = await request(`${configurationPath("c-rollback", "assigned")}?api-version=${PREVIEW_API}`);
  t.equal(got.json.properties.repositoryUrl, "git@old-host.example:fleet/config.git");
  t.notOk(JSON.stringify(got.json).includes(ALICE) || JSON.stringify(got.json).includes(CAROL), "the recorded principal is never shown");
  t.notOk(server.logs.join("").includes(value), "no value in the log");
});

t.test("whatIf of an assignment with references: the unchanged spec is NoChange, and the recorded principal is never named", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const server = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  kv.set("fleet-kv", "deploy-key", sshPrivateKeyB64());
  t.equal((await request(`${clusterPath("c-whatif")}?api-version=2024-01-01`, { method: "PUT", body: { ...clusterBody(), tags: { ring: "wi" } } })).status, 201);
  const body = assignmentBody(
    { configurationName: "assigned", clusterSelector: { tags: { ring: "wi" } } },
    { repositoryUrl: "git@github.com:example/fleet.git", operatorInstanceName: "assigned", keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "deploy-key" } } },
  );
  t.equal((await request(withApi(assignmentPath("kv-whatif")), { method: "PUT", body })).status, 201);
  await settle(server);
  const same = await request(withApi(`${assignmentPath("kv-whatif")}/whatIf`), { method: "POST", body });
  t.equal(same.status, 200, same.text);
  t.notMatch(same.text, /keyVaultPrincipal/, "the internal record is not named");
  t.same(same.json.value.map((v: { change: string }) => v.change), ["NoChange"], "the same PUT by the same author changes nothing");
  const moved = await request(withApi(`${assignmentPath("kv-whatif")}/whatIf`), { method: "POST", body: { properties: { ...body.properties, configuration: { ...body.properties.configuration, repositoryUrl: "git@github.com:example/other.git" } } } });
  t.equal(moved.status, 200, moved.text);
  t.same(moved.json.value[0]?.changedProperties?.filter((p: string) => p !== "configurationProtectedSettings"), ["repositoryUrl"]);
});
