/**
 * The caller's identity in the Key Vault trust rule (issue #14, docs/design/keyvault-references.md "Trust"),
 * end to end over HTTPS with dev-authenticator tokens for several principals of one tenant, the real
 * SecretClient against the secrets stand-in and a reference agent:
 * - an allowed principal's PUT is 201 and its cluster gets the secret; another principal of the same tenant
 *   gets 403 KeyVaultReferenceNotAllowed before the configuration or cluster is read, nothing written, in
 *   words that do not say whether the vault is allowed for anyone else; an app id allows app-only callers,
 *   not a user who signed in through that app;
 * - an assignment PUT by a principal not allowed is 403 the same way; by an allowed one, its rollout
 *   writes the clusters' configurations under that principal's right;
 * - the allow-list changed at restart to drop the author: the resolver reads nothing more for those
 *   configurations (a rotation is not delivered), they and the assignment's compliance show Failed naming
 *   the principal and the vault; a PUT of the assignment by a principal still allowed resumes the reads;
 * - another VaultAccessChecker plugged in through the port is asked at PUT and before every read, and
 *   "cannot tell" writes and reads nothing;
 * - a configuration without a recorded principal (the first preview's) is read for nobody until a PUT.
 */
import t from "tap";
import path from "node:path";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { sshPublicKeyOf } from "../../src/agent/ssh-public-key.js";
import { loadOrCreateDevIdentity } from "../../src/auth/dev-identity.js";
import { systemClock } from "../../src/ports/clock.js";
import { createStore } from "../../src/store/factory.js";
import type { Store } from "../../src/store/port.js";
import type { VaultAccessChecker, VaultAccessRequest } from "../../src/ports/vault-access.js";
import { Persistence } from "../../src/persistence/index.js";
import type { ConfigurationRecord, ConfigurationSpec } from "../../src/domain/types.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";
import { settle } from "../helpers/reconciler.js";

const BOB = "bbbbbbbb-0000-4000-8000-000000000002";
const APP = "0a0a0a0a-0000-4000-8000-00000000a99a";
const APP_SP = "5e5e5e5e-0000-4000-8000-000000000005";

const at = (p: string, api = PREVIEW_API) => `${p}?api-version=${api}`;
const ref = (secretName: string, vault = "fleet-kv") => ({ keyVaultResourceId: vaultId(vault), secretName });

/** the store, with every call recorded as "op kind" (a get of a subscription: "get subscription") */
function recording(store: Store, calls: string[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function" || prop === "close") return value;
      return (...args: unknown[]) => {
        calls.push(`${String(prop)} ${typeof args[0] === "string" ? args[0] : ""}`.trim());
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

t.test("the caller's identity decides which vault it may have read, at PUT and at every read", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const dataDir = tempDir("kv-trust-");
  // the dev identity the server will trust, made first: its object id goes into the allow-list
  const identity = await loadOrCreateDevIdentity(dataDir);
  const ALICE = identity.objectId;
  const calls: string[] = [];
  const open = async () => recording(await createStore({ engine: "sqlite", path: path.join(dataDir, "store.db") }, systemClock, { runMigrationsAtStartup: true }), calls);
  const start = async (allowedVaults: string[]) => startServer({ dataDir, store: await open(), keyVault: { reader, refreshMs: 1000, allowedVaults } });

  let server: TestServer = await start([`${vaultId("fleet-kv")}=${ALICE}|appid:${APP}`]);
  t.teardown(() => server.close());
  const alice = server.token;
  const bob = await identity.mint({ claims: { oid: BOB, upn: "bob@contoso.example", name: "Bob" } });
  const bobThroughApp = await identity.mint({ claims: { oid: BOB, appid: APP, upn: "bob@contoso.example", name: "Bob" } });
  const pipeline = await identity.mint({ claims: { oid: APP_SP, appid: APP, idtyp: "app", upn: undefined, name: undefined } });
  let request = client(server.url, server.ca, alice);

  const v1Value = sshPrivateKeyB64();
  const v1 = kv.set("fleet-kv", "deploy-key", v1Value);
  const key = generateAgentKey("ec");
  const clusterPut = await request(at(clusterPath("c-trust"), "2024-01-01"), { method: "PUT", body: { ...clusterBody(key.publicKeyB64), tags: { ring: "trust" } } });
  t.equal(clusterPut.status, 201, clusterPut.text);
  const outDir = tempDir("kv-trust-agent-");
  const agentAt = (url: string) =>
    new Agent({ client: new AgentClient({ serviceUrl: url, clusterId: clusterPut.json.id, privateKey: loadAgentKey(key.privateKeyPem), ca: server.ca }), privateKey: loadAgentKey(key.privateKeyPem), outDir });
  let agent = agentAt(server.url);
  const body = configurationBody({ keyVaultReferences: { sshPrivateKey: ref("deploy-key") } });

  // another principal of the same tenant: 403, before the cluster or configuration is read, nothing written
  calls.length = 0;
  const denied = await request(at(configurationPath("c-trust", "by-bob")), { method: "PUT", body, token: bob });
  t.equal(denied.status, 403, denied.text);
  t.equal(denied.json.error.code, "KeyVaultReferenceNotAllowed");
  t.equal(denied.json.error.target, "properties.keyVaultReferences.sshPrivateKey.keyVaultResourceId");
  t.match(denied.json.error.message, new RegExp(`object id '${BOB}'`), "names the caller's own id");
  t.notMatch(denied.json.error.message, new RegExp(`${ALICE}|${APP}`, "i"), "never the principals that are allowed");
  t.same(calls, ["get subscription"], "only the caller's subscription registration was read: no cluster, no configuration, no write");
  // the same words whether the vault is allowed for others or for nobody (no oracle)
  const unlisted = await request(at(configurationPath("c-trust", "by-bob")), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: ref("deploy-key", "team-kv") } }), token: bob });
  t.equal(unlisted.status, 403);
  t.equal(unlisted.json.error.message.replace("team-kv", "fleet-kv"), denied.json.error.message, "listed-for-others and listed-for-nobody read alike");
  t.equal((await request(at(configurationPath("c-trust", "by-bob")))).status, 404, "nothing written");
  // an app id allows that application's own (app-only) calls, not a user who signed in through it
  const viaApp = await request(at(configurationPath("c-trust", "by-bob")), { method: "PUT", body, token: bobThroughApp });
  t.equal(viaApp.status, 403, "a user token carrying the allowed app id as its client");
  const byPipeline = await request(at(configurationPath("c-trust", "by-pipeline")), { method: "PUT", body, token: pipeline });
  t.equal(byPipeline.status, 201, byPipeline.text);

  // the allowed principal: 201, resolved, delivered
  const put = await request(at(configurationPath("c-trust", "by-alice")), { method: "PUT", body });
  t.equal(put.status, 201, put.text);

  // assignments: the PUT's caller is checked the same way
  const assignment = assignmentBody(
    { configurationName: "assigned", clusterSelector: { tags: { ring: "trust" } } },
    { repositoryUrl: "git@github.com:example/fleet.git", operatorInstanceName: "assigned", keyVaultReferences: { sshPrivateKey: ref("deploy-key") } },
  );
  calls.length = 0;
  const deniedAssignment = await request(withApi(assignmentPath("kv-trust")), { method: "PUT", body: assignment, token: bob });
  t.equal(deniedAssignment.status, 403, deniedAssignment.text);
  t.equal(deniedAssignment.json.error.code, "KeyVaultReferenceNotAllowed");
  t.equal(deniedAssignment.json.error.target, "properties.configuration.keyVaultReferences.sshPrivateKey.keyVaultResourceId");
  t.same(calls, ["get subscription"], "refused before the assignment is read; nothing written");
  t.equal((await request(withApi(assignmentPath("kv-trust")))).status, 404);
  const assigned = await request(withApi(assignmentPath("kv-trust")), { method: "PUT", body: assignment });
  t.equal(assigned.status, 201, assigned.text);
  t.notOk(JSON.stringify((await request(withApi(assignmentPath("kv-trust")))).json).includes(ALICE), "nor on the assignment");
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  const polled = await agent.runOnce();
  t.same(polled.applied.sort(), ["assigned", "by-alice", "by-pipeline"], "each allowed configuration delivered");
  for (const name of ["by-alice", "assigned"]) {
    const got = await request(at(configurationPath("c-trust", name)));
    t.equal(got.json.properties.repositoryPublicKey, sshPublicKeyOf(v1Value, `flux-${name}`), `${name}: the agent unsealed the vault's key`);
    t.same(got.json.properties.keyVaultReferencesStatus.appliedVersions, { sshPrivateKey: v1 });
    t.notOk(JSON.stringify(got.json).includes(ALICE), "the recorded principal is never shown");
  }

  // restart: the operators drop Alice (and the app) and allow Bob
  await server.close();
  server = await start([`${vaultId("fleet-kv")}=${BOB}`]);
  request = client(server.url, server.ca, alice);
  agent = agentAt(server.url);
  kv.set("fleet-kv", "deploy-key", sshPrivateKeyB64()); // a rotation the dropped author must not receive
  await new Promise((r) => setTimeout(r, 1100));
  const report = await server.keyVaultResolver?.runOnce();
  t.equal(report?.vaultReads, 0, "no vault read for configurations whose author was dropped");
  t.notOk(server.logs.some((l) => l.includes('"audit":"keyVaultSecretRead"')), "no audit line: nothing was read");
  t.same((await agent.runOnce()).applied, [], "no new version reaches the cluster; it keeps what it had");
  for (const [name, principal] of [["by-alice", ALICE], ["by-pipeline", APP_SP], ["assigned", ALICE]] as const) {
    const got = await request(at(configurationPath("c-trust", name)));
    t.equal(got.json.properties.complianceStatus.complianceState, "Failed", name);
    t.match(got.json.properties.complianceStatus.message, new RegExp(`accepted for \\(object id '${principal}'\\) may no longer use vault 'fleet-kv'`), `${name}: names the principal and the vault`);
    t.equal(got.json.properties.keyVaultReferencesStatus.state, "Failed");
    t.same(got.json.properties.keyVaultReferencesStatus.resolvedVersions, { sshPrivateKey: v1 }, "the copy held is the one read before");
    t.notMatch(got.json.properties.complianceStatus.message, new RegExp(BOB), "never who else may");
  }
  const results = await request(withApi(`${assignmentPath("kv-trust")}/complianceResults`));
  t.equal(results.json.value.length, 1);
  t.equal(results.json.value[0].complianceState, "Failed", "the assignment's compliance shows it");
  t.match(results.json.value[0].message, /may no longer use vault 'fleet-kv'/);
  // Alice may no longer write such references either
  t.equal((await request(at(configurationPath("c-trust", "by-alice")), { method: "PUT", body })).status, 403);

  // the remedy the message names: a PUT of the assignment by a principal allowed to use the vault
  const again = await request(withApi(assignmentPath("kv-trust")), { method: "PUT", body: assignment, token: bob });
  t.equal(again.status, 200, again.text);
  await settle(server);
  await server.keyVaultResolver?.runOnce();
  t.same((await agent.runOnce()).applied, ["assigned"], "the assignment's configuration, now under Bob's right, gets the new version");
  const recovered = await request(at(configurationPath("c-trust", "assigned")));
  t.not(recovered.json.properties.complianceStatus.complianceState, "Failed");
  t.notSame(recovered.json.properties.keyVaultReferencesStatus.resolvedVersions, { sshPrivateKey: v1 }, "read again");
  t.equal((await request(at(configurationPath("c-trust", "by-alice")))).json.properties.complianceStatus.complianceState, "Failed", "Alice's own configuration stays Failed");
});

t.test("another VaultAccessChecker plugs in through the port: asked at PUT and before every read; 'cannot tell' reads and writes nothing", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  // a checker of the port's contract whose answer the test sets (a production adapter would ask Azure authorization)
  let answer: "yes" | "no" | "cannot tell" = "yes";
  const asked: VaultAccessRequest[] = [];
  const access: VaultAccessChecker = {
    mayUse: async (request) => {
      asked.push(request);
      if (answer === "cannot tell") throw new Error("authorization service unreachable");
      return answer === "yes";
    },
  };
  const server = await startServer({ keyVault: { reader, refreshMs: 1000, access } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  kv.set("fleet-kv", "deploy-key", sshPrivateKeyB64());
  const key = generateAgentKey("ec");
  const cluster = await request(at(clusterPath("c-port"), "2024-01-01"), { method: "PUT", body: clusterBody(key.publicKeyB64) });
  t.equal(cluster.status, 201);
  const path = configurationPath("c-port", "cfg");
  const body = configurationBody({ keyVaultReferences: { sshPrivateKey: ref("deploy-key") } });

  t.equal((await request(at(path), { method: "PUT", body })).status, 201);
  t.same(asked.map((r) => [r.vaultId, r.principal.objectId, r.principal.kind]), [[vaultId("fleet-kv"), server.identity.objectId, "User"]], "asked for the caller at PUT");
  asked.length = 0;
  const resolved = await server.keyVaultResolver?.runOnce();
  t.equal(resolved?.vaultReads, 1);
  t.equal(asked.length, 1, "asked again, for the recorded principal, before the read");
  t.equal(asked[0]?.principal.objectId, server.identity.objectId);

  // cannot tell: the PUT fails without writing; the resolver reads and writes nothing, the configuration is as it was
  answer = "cannot tell";
  const refused = await request(at(configurationPath("c-port", "other")), { method: "PUT", body });
  t.ok(refused.status >= 500, `a PUT the checker cannot answer fails (${refused.status})`);
  t.notMatch(refused.text, /unreachable/, "the checker's error is not shown");
  t.equal((await request(at(configurationPath("c-port", "other")))).status, 404, "nothing written");
  await new Promise((r) => setTimeout(r, 1100));
  const unsure = await server.keyVaultResolver?.runOnce();
  t.same([unsure?.vaultReads, unsure?.written, unsure?.failed], [0, 0, 0], "no read, no write");
  t.not((await request(at(path))).json.properties.complianceStatus.complianceState, "Failed", "not shown Failed for a question it could not answer");
  t.ok(server.logs.some((l) => l.includes("Key Vault access check failed")), "logged");

  // no: Failed naming the principal and the vault, and no read
  answer = "no";
  const denied = await server.keyVaultResolver?.runOnce();
  t.same([denied?.vaultReads, denied?.failed], [0, 1]);
  const got = await request(at(path));
  t.equal(got.json.properties.complianceStatus.complianceState, "Failed");
  t.match(got.json.properties.complianceStatus.message, new RegExp(`object id '${server.identity.objectId}'\\) may no longer use vault 'fleet-kv'`));
});

t.test("a configuration accepted before principals were recorded is not read for anyone until a PUT records one", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const server = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  kv.set("fleet-kv", "deploy-key", sshPrivateKeyB64());
  t.equal((await request(at(clusterPath("c-legacy"), "2024-01-01"), { method: "PUT", body: clusterBody() })).status, 201);
  const path = configurationPath("c-legacy", "cfg");
  const body = configurationBody({ keyVaultReferences: { sshPrivateKey: ref("deploy-key") } });
  t.equal((await request(at(path), { method: "PUT", body })).status, 201);
  // the record as the first preview wrote it: references, no principal
  const repo = new Persistence(server.store, server.codec);
  const found = await repo.configurations.get(SUB, path);
  t.ok(found?.record.spec.keyVaultPrincipal, "a PUT records the principal");
  const { keyVaultPrincipal: _dropped, ...legacySpec } = found?.record.spec ?? ({} as ConfigurationSpec);
  await repo.configurations.write(SUB, { ...(found?.record as ConfigurationRecord), spec: legacySpec as ConfigurationSpec }, found?.etag);

  const report = await server.keyVaultResolver?.runOnce();
  t.same([report?.vaultReads, report?.failed], [0, 1], "not read, even with '*' listed");
  const got = await request(at(path));
  t.equal(got.json.properties.complianceStatus.complianceState, "Failed");
  t.match(got.json.properties.complianceStatus.message, /accepted before the service recorded who may use them: the service does not read vault 'fleet-kv'/);
  t.equal((await request(at(path), { method: "PUT", body })).status, 200, "a PUT records the caller");
  const again = await server.keyVaultResolver?.runOnce();
  t.same([again?.vaultReads, again?.failed], [1, 0], "read again");
});
