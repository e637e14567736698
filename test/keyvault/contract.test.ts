/**
 * The contract of sourceControlConfigurations at 2026-12-01-preview: PUT (created, replaced), GET,
 * list and DELETE of configurations with Key Vault references, resolved and applied (so the read-only
 * keyVaultReferencesStatus carries versions), recorded and validated with the real `oav validate-traffic`
 * against our own openapi/sourceControlConfigurationsPreview.json; every operation of the document covered
 * and passed. A negative control shows oav checks the new properties (a malformed reference breaks it).
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { Agent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { OPENAPI_DIR } from "../../src/openapi/index.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { recordingClient, stageSpec } from "../helpers/contract-traffic.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { validateTraffic } from "../helpers/oav.js";
import { PREVIEW_API, startSecretVault, vaultId } from "../helpers/keyvault.js";

const SPEC = path.join(OPENAPI_DIR, "sourceControlConfigurationsPreview.json");

t.test("the preview's traffic passes oav validate-traffic against its own document", async (t) => {
  const { kv, reader } = await startSecretVault();
  t.teardown(() => kv.stop());
  const server = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
  t.teardown(() => server.close());
  const work = tempDir("kv-contract-");
  const setup = client(server.url, server.ca, server.token);
  const key = generateAgentKey("ec");
  const cluster = await setup(`${clusterPath("k1")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(key.publicKeyB64) });
  t.equal(cluster.status, 201);
  const recorder = recordingClient(server.url, server.ca, server.token);
  const at = (p: string) => `${p}?api-version=${PREVIEW_API}`;
  const refs = { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "deploy-key" } };
  const v1 = kv.set("fleet-kv", "deploy-key", sshPrivateKeyB64());

  t.equal((await recorder.request(at(configurationPath("k1", "cfg")), { method: "PUT", body: configurationBody({ keyVaultReferences: refs }) })).status, 201);
  t.equal((await recorder.request(at(configurationPath("k1", "plain")), { method: "PUT", body: configurationBody() })).status, 201);
  await server.keyVaultResolver?.runOnce();
  const privateKey = loadAgentKey(key.privateKeyPem);
  await new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: cluster.json.id, privateKey, ca: server.ca }), privateKey, outDir: tempDir("kv-c-") }).runOnce();
  const got = await recorder.request(at(configurationPath("k1", "cfg")));
  t.same(got.json.properties.keyVaultReferencesStatus.appliedVersions, { sshPrivateKey: v1 }, "the status carries versions");
  t.equal((await recorder.request(at(configurationsPath("k1")))).status, 200);
  t.equal((await recorder.request(at(configurationPath("k1", "cfg")), { method: "PUT", body: configurationBody({ keyVaultReferences: { sshPrivateKey: { ...refs.sshPrivateKey, secretVersion: v1 } } }) })).status, 200);
  t.equal((await recorder.request(at(configurationPath("k1", "plain")), { method: "DELETE" })).status, 200);
  t.equal((await recorder.request(at(configurationPath("k1", "missing")))).status, 404);

  const dir = path.join(work, "traffic");
  const written = recorder.writeTo(dir);
  t.equal(written, 7, "PUT 201 twice, GET, list, PUT 200, DELETE, GET 404");
  const report = await validateTraffic(dir, stageSpec(SPEC, work), work);
  if (report.exitCode !== 0 || report.errors.length > 0) t.comment(JSON.stringify(report.errors, null, 2));
  t.equal(report.exitCode, 0, "oav exit code");
  t.same(report.errors, [], "no errors");
  t.equal(report.coveredOperations, 4, "Get, CreateOrUpdate, Delete, List covered");

  // negative control: the same traffic with a malformed reference in a request breaks the document
  const bad = path.join(work, "bad");
  fs.mkdirSync(bad);
  const pair = JSON.parse(fs.readFileSync(path.join(dir, "000.json"), "utf8")) as { liveRequest: { body: { properties: { keyVaultReferences: unknown } } } };
  pair.liveRequest.body.properties.keyVaultReferences = { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "bad_name", extra: 1 } };
  fs.writeFileSync(path.join(bad, "000.json"), JSON.stringify(pair));
  const refused = await validateTraffic(bad, stageSpec(SPEC, work), work);
  t.ok(refused.errors.length > 0 || refused.exitCode !== 0, "oav refuses a malformed reference: the pass above is not vacuous");
});
