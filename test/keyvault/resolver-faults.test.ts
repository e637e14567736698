/**
 * The resolver when Key Vault misbehaves, with an injected clock: throttling (429 + Retry-After: no read
 * before the vault's delay; the configuration shows Failed with the cause, naming vault and secret), an
 * outage (dropped connections: backoff 1 s, 2 s, 4 s … between reads, not one read per pass), the service's
 * identity losing access (403), then recovery: resolved again, the failure cleared. No failure message carries
 * the value.
 */
import t from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { startServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";

t.test("throttling, outage, access lost, recovery", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
  const server = await startServer({ clock, keyVault: { reader, refreshMs: 60_000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
  t.teardown(() => server.close());
  const request = client(server.url, server.ca, server.token);
  t.equal((await request(`${clusterPath("k1")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() })).status, 201);
  const path = `${configurationPath("k1", "cfg")}?api-version=${PREVIEW_API}`;
  const value = sshPrivateKeyB64();
  const v1 = kv.set("fleet-kv", "deploy-key", value);
  t.equal((await request(path, { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "deploy-key" } } }) })).status, 201);
  const resolver = server.keyVaultResolver;
  if (!resolver) throw new Error("no resolver");
  const state = async () => (await request(path)).json.properties;
  const pass = async (advanceMs: number) => {
    clock.advance(advanceMs);
    const before = kv.requests;
    await resolver.runOnce();
    return kv.requests - before;
  };

  // throttled: Retry-After 3 s
  kv.mode = "throttle";
  kv.retryAfterSeconds = 3;
  t.ok((await pass(0)) >= 1, "the vault was asked");
  let p = await state();
  t.equal(p.complianceStatus.complianceState, "Failed");
  t.match(p.complianceStatus.message, /vault 'fleet-kv', secret 'deploy-key': Key Vault throttled the service; retrying/);
  t.equal(await pass(1000), 0, "1 s later: not asked again (Retry-After 3 s)");
  t.equal(await pass(1000), 0, "2 s later: not yet");

  // an outage: connections dropped
  kv.mode = "down";
  t.ok((await pass(1100)) >= 1, "after the Retry-After the vault is asked again");
  p = await state();
  t.match(p.complianceStatus.message, /Key Vault could not be reached; retrying/);
  t.equal(await pass(500), 0, "backoff: not asked at every pass");
  t.ok((await pass(3600)) >= 1, "asked again once the backoff has passed");
  t.equal(await pass(1000), 0, "the backoff grew");

  // access lost: 403
  kv.mode = "up";
  kv.deny("fleet-kv");
  t.ok((await pass(10_000)) >= 1);
  p = await state();
  t.match(p.complianceStatus.message, /the service's identity is not allowed to read it/);
  t.equal(p.keyVaultReferencesStatus.state, "Failed");

  // recovery
  kv.deny("fleet-kv", false);
  t.ok((await pass(20_000)) >= 1);
  p = await state();
  t.equal(p.keyVaultReferencesStatus.state, "Resolved");
  t.same(p.keyVaultReferencesStatus.resolvedVersions, { sshPrivateKey: v1 });
  t.equal(p.complianceStatus.complianceState, "Pending", "the failure is cleared: waiting for the agent");
  t.notOk(JSON.stringify(server.logs).includes(value), "no value in any log line");
});
