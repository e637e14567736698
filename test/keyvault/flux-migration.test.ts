/**
 * migrateToFluxV2 of a Flux v1 configuration that takes its SSH key from Key Vault (issue #16 beside #14):
 * the copy the service read from the vault is never carried over as a plain Flux v2 protected setting (it
 * would expire 48 hours after the read, with nothing to renew it). The one-configuration action, the cluster
 * action and the `flux-migrate` CLI refuse it (whatIf: Blocked) with a message naming the references and what
 * to supply; with the value supplied in the body it migrates, warned (KeyVaultReferencesDropped), and the
 * fluxConfiguration holds the supplied value, not the vault's.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, SUB, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";
import { ROOT } from "../helpers/process.js";
import { startServer, tempDir } from "../helpers/server.js";
import { Persistence } from "../../src/persistence/index.js";
import { fluxConfigurationId } from "../../src/arm/resource-ids.js";

function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/flux-migrate.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

t.test("a Key Vault-referencing configuration is not migrated with the vault's copy", async (t) => {
  const vault = await startSecretVault();
  const server = await startServer({ keyVault: { reader: vault.reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
  t.teardown(async () => {
    await server.close();
    await vault.kv.stop();
  });
  const http = client(server.url, server.ca, server.token);
  const vaultKey = sshPrivateKeyB64();
  vault.kv.set("fleet-kv", "deploy-key", vaultKey);
  t.equal((await http(`${clusterPath("c-kv")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() })).status, 201);
  const put = await http(`${configurationPath("c-kv", "cfg")}?api-version=${PREVIEW_API}`, { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "deploy-key" } } }) });
  t.equal(put.status, 201, put.text);
  const resolved = await server.keyVaultResolver?.runOnce();
  t.ok(resolved && resolved.written >= 1, "the service holds the copy it read from the vault");

  const one = `${configurationPath("c-kv", "cfg")}/migrateToFluxV2?api-version=${PREVIEW_API}`;
  const all = `${clusterPath("c-kv")}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?api-version=${PREVIEW_API}`;
  const why = /takes sshPrivateKey from Key Vault \(keyVaultReferences\), and fluxConfigurations do not take Key Vault references yet: the copy the service read from the vault is not carried over, because it would become a plain Flux v2 protected setting that expires 48 hours after the read.*Supply sshPrivateKey in the action's body/;
  const dry = await http(one, { method: "POST", body: { whatIf: true } });
  t.equal(dry.status, 200);
  t.match(dry.json.value[0], { result: "Blocked", message: why, protectedSettings: { carried: [] } });
  for (const target of [one, all]) {
    const refused = await http(target, { method: "POST", body: {} });
    t.equal(refused.status, 400, target);
    t.match(refused.json.error, { code: "InvalidParameter", target: "configurationProtectedSettings.sshPrivateKey", message: why });
    t.notOk(refused.text.includes(vaultKey), "the key is not echoed");
  }
  t.equal((await http(`${configurationPath("c-kv", "cfg")}?api-version=2024-11-01`)).status, 200, "nothing migrated");

  // the CLI (through the cluster action): Blocked in a dry run, Refused for real, exit 1
  const caFile = path.join(tempDir(), "ca.pem");
  fs.writeFileSync(caFile, server.ca);
  const common = ["--subscription", SUB, "--url", server.url, "--ca", caFile];
  const dryCli = await cli([...common, "--dry-run"], { DATA_DIR: server.dataDir });
  t.equal(dryCli.status, 1);
  t.match(dryCli.stdout, /^rg1\/c-kv\s+cfg\s+Blocked: .*Key Vault/m);
  const realCli = await cli(common, { DATA_DIR: server.dataDir });
  t.equal(realCli.status, 1);
  t.match(realCli.stdout, /^rg1\/c-kv\s+\*\s+Refused: InvalidParameter: .*Key Vault/m);
  t.equal((await http(`${configurationPath("c-kv", "cfg")}?api-version=2024-11-01`)).status, 200, "the CLI migrated nothing");

  // the value supplied: migrated, warned, holding the supplied key (not the vault's copy)
  const supplied = sshPrivateKeyB64();
  const migrated = await http(one, { method: "POST", body: { configurationProtectedSettings: { sshPrivateKey: supplied } } });
  t.equal(migrated.status, 200, migrated.text);
  t.match(migrated.json.value[0], { result: "Migrated", protectedSettings: { carried: [], supplied: ["sshPrivateKey"] } });
  t.match(migrated.json.value[0].warnings.find((w: { code: string }) => w.code === "KeyVaultReferencesDropped"), { source: "keyVaultReferences", message: /not carried over.*kept at most 48 hours/ }, "warned: the references are dropped");
  const repo = new Persistence(server.store, server.codec);
  const v2 = await repo.fluxConfigurations.get(SUB, fluxConfigurationId(put.json.id.split("/providers/Microsoft.KubernetesConfiguration/")[0], "cfg"));
  t.ok(v2 && !v2.deleted, "the fluxConfiguration exists");
  const secrets = await repo.secrets.get(SUB, v2?.record.id ?? "");
  t.equal(secrets?.record.protectedSettings.sshPrivateKey, supplied, "it holds the supplied key");
  t.not(secrets?.record.protectedSettings.sshPrivateKey, vaultKey, "not the vault's copy");
});
