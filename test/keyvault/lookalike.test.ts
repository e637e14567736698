/**
 * A look-alike vault id (issue #14 review): the service reaches a vault by its name alone
 * (KEYVAULT_URL_TEMPLATE), so the subscription and resource group in a reference's keyVaultResourceId are
 * only the caller's claim. With a subscription-wide allow-list entry (`/subscriptions/{s}=*`), a writer of
 * that subscription could name another subscription's vault under its own subscription's id and have the
 * service read it and seal it to a cluster of theirs. Real server, real SecretClient against the stand-in,
 * a reference agent: the look-alike is 403 at PUT and nothing of the victim's secret is delivered; the
 * subscription's own vaults still work.
 */
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";

const OTHER_SUB = "00000000-0000-0000-0000-0000000000bb";
const VICTIM = "cccccccc-0000-4000-8000-00000000000c";

t.test("a vault of another subscription named under the caller's subscription's id is not read", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  // the caller's subscription: every writer may use its vaults; the other subscription's vault: its owner only
  const server = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`/subscriptions/${SUB}=*`, `${vaultId("victim-kv", OTHER_SUB)}=${VICTIM}`] } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  const victimValue = sshPrivateKeyB64();
  kv.set("victim-kv", "deploy-key", victimValue);
  const ownValue = sshPrivateKeyB64();
  kv.set("team-kv", "deploy-key", ownValue);

  const key = generateAgentKey("ec");
  const cluster = await request(`${clusterPath("c-lookalike")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(key.publicKeyB64) });
  t.equal(cluster.status, 201, cluster.text);
  const outDir = tempDir("kv-lookalike-agent-");
  const privateKey = loadAgentKey(key.privateKeyPem);
  const agent = new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: cluster.json.id, privateKey, ca: server.ca }), privateKey, outDir });

  const at = (name: string) => `${configurationPath("c-lookalike", name)}?api-version=${PREVIEW_API}`;
  // the victim's vault, under the caller's own subscription (and any group): the same URL to the service
  for (const rg of ["rg-vaults", "rg-anything"]) {
    const lookalike = await request(at(`steal-${rg}`), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("victim-kv", SUB, rg), secretName: "deploy-key" } } }) });
    t.equal(lookalike.status, 403, `${rg}: ${lookalike.text}`);
    t.equal(lookalike.json.error?.code, "KeyVaultReferenceNotAllowed");
  }
  // a vault of the subscription that no entry lists elsewhere: the subscription-wide entry covers it
  const own = await request(at("own"), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("team-kv"), secretName: "deploy-key" } } }) });
  t.equal(own.status, 201, own.text);
  await server.keyVaultResolver?.runOnce();
  const polled = await agent.runOnce();
  t.same(polled.applied, ["own"], "only the subscription's own vault is delivered");
  t.equal(kv.readsOf("victim-kv", "deploy-key"), 0, "the victim's vault was never read");
  t.notOk(server.logs.join("").includes(victimValue) || server.logs.join("").includes(ownValue), "no value in the log");
});

t.test("the allow-list refuses what a name-only vault URL cannot tell apart", async (t) => {
  const { parseVaultAllowList } = await import("../../src/domain/keyvault-trust.js");
  t.throws(() => parseVaultAllowList([`/subscriptions/${SUB}=*`, `/subscriptions/${OTHER_SUB}=${VICTIM}`]), /at most one subscription-wide scope/, "two subscription-wide scopes");
  t.throws(() => parseVaultAllowList([`${vaultId("fleet-kv")}=*`, `${vaultId("fleet-kv", OTHER_SUB)}=${VICTIM}`]), /name the same vault 'fleet-kv'/, "one vault name under two ids");
  t.doesNotThrow(() => parseVaultAllowList([`/subscriptions/${SUB}=*`, `${vaultId("fleet-kv", OTHER_SUB)}=${VICTIM}`]));
});
