/**
 * The promises v1 keeps, kept for Flux v2 fluxConfigurations (issue #16), on the embedded SQLite store
 * and on Azure Cosmos DB (the test server):
 * 1. encryption at rest: canaries in the protected settings (sshPrivateKey, httpsKey), in httpsUser,
 *    the URL, paths, substitutions and known_hosts appear in no form in the raw store (SQLite files, WAL
 *    included; raw Cosmos items);
 * 2. the 48-hour promise with an injected clock and a short window: the agent gets the sealed settings
 *    before expiry; after it, no read path has them, the sweeper deletes them and destroys their key,
 *    and an undelivered configuration shows Failed with what to do; a delivered one is left alone.
 */
import crypto from "node:crypto";
import { compactDecrypt } from "jose";
import t, { type Test } from "tap";
import { ManualClock } from "../../src/ports/clock.js";
import { EXPIRED_BEFORE_DELIVERY } from "../../src/domain/configurations.js";
import { startServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { cosmosItems, findIn, readSqliteFiles, sqliteRows } from "../helpers/raw-store.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { b64, clusterBody, clusterPath, fluxConfigurationBody, fluxConfigurationPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const WINDOW_MS = 60_000;

let cosmos: CosmosTestServer;
t.before(async () => {
  cosmos = await startCosmos();
});
t.teardown(() => cosmos.close());

const scenario = (engine: "sqlite" | "cosmos") => async (t: Test) => {
  const clock = new ManualClock(Date.parse("2026-12-01T00:00:00Z"));
  const db = `flux-${Math.random().toString(36).slice(2)}`;
  const store = engine === "cosmos" ? await openCosmosStore(cosmos, clock, undefined, db) : undefined;
  await store?.migrate();
  const server = await startServer({ clock, store, retention: { secretsRetentionMs: WINDOW_MS }, agent: { stalenessMs: 60_000 } });
  t.teardown(() => server.close());
  /** every stored document as { kind, body }, whatever the engine */
  const rows = async (): Promise<Array<{ kind: string; body: Record<string, unknown> }>> =>
    engine === "cosmos"
      ? (await cosmosItems(cosmos, db)).map((i) => ({ kind: String(i.kind), body: i.body as Record<string, unknown> }))
      : sqliteRows(server.dataDir).map((r) => ({ kind: String(r.kind), body: JSON.parse(String(r.body)) as Record<string, unknown> }));
  const haystacks = async (): Promise<Array<{ name: string; text: string | Buffer }>> =>
    engine === "cosmos" ? (await cosmosItems(cosmos, db)).map((i) => ({ name: `${String(i.kind)} ${String(i.key)}`, text: JSON.stringify(i) })) : readSqliteFiles(server.dataDir).map((f) => ({ name: f.name, text: f.bytes }));
  const arm = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  const raw = client(server.url, server.ca);
  const token = (cluster: string) => agent.token(clusterPath(cluster), { iat: Math.floor(clock.now() / 1000) });
  const poll = async (cluster: string) => raw(`/agent/v1${clusterPath(cluster)}/configurations`, { token: await token(cluster) });
  const report = async (cluster: string, name: string, body: unknown) => raw(`/agent/v1${clusterPath(cluster)}/fluxConfigurations/${name}/status`, { method: "POST", body, token: await token(cluster) });

  t.equal((await arm(`${clusterPath("c2")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const canary = `cnry${crypto.randomBytes(8).toString("hex")}`;
  const c = (field: string) => `${canary}${field}`;
  const sshKey = sshPrivateKeyB64();
  const pemLine = Buffer.from(sshKey, "base64").toString().split("\n")[1] ?? "";
  const knownHosts = knownHostsB64(c("host"));

  const ssh = await arm(`${fluxConfigurationPath("c2", "ssh")}?${V}`, {
    method: "PUT",
    body: fluxConfigurationBody({
      gitRepository: { url: `ssh://git@canary.example/${c("repo")}`, repositoryRef: { branch: c("branch") }, sshKnownHosts: knownHosts },
      kustomizations: { k: { path: `./${c("path")}`, postBuild: { substitute: { v: c("subst") } } } },
      configurationProtectedSettings: { sshPrivateKey: sshKey },
    }),
  });
  t.equal(ssh.status, 201, ssh.text);
  const https = await arm(`${fluxConfigurationPath("c2", "https")}?${V}`, {
    method: "PUT",
    body: fluxConfigurationBody({
      gitRepository: { url: `https://canary.example/${c("httpsrepo")}`, repositoryRef: { tag: "v1" }, httpsUser: c("httpsuser") },
      configurationProtectedSettings: { httpsKey: b64(c("httpskey")) },
    }),
  });
  t.equal(https.status, 201, https.text);
  t.equal(https.json.properties.gitRepository.httpsUser, c("httpsuser"), "httpsUser is plain text in Flux v2, as Azure serves it");
  t.notOk([ssh.text, https.text].some((r) => r.includes(sshKey) || r.includes(b64(c("httpskey")))), "no protected setting in a response");

  t.test(`1. at rest: the canaries are nowhere in the raw ${engine} store, in no encoding`, async (t) => {
    const stacks = await haystacks();
    t.ok(stacks.length >= 1);
    for (const field of ["repo", "branch", "path", "subst", "host", "httpsrepo", "httpsuser", "httpskey"]) t.same(findIn(stacks, c(field)), [], `${field} is sealed`);
    t.same(findIn(stacks, pemLine), [], "the private key is sealed");
    const all = await rows();
    const kinds = new Set(all.map((r) => r.kind));
    t.ok(kinds.has("fluxConfiguration") && kinds.has("configurationSecrets"), "records and secrets are kept apart, as for v1");
    for (const row of all.filter((r) => r.kind === "fluxConfiguration" || r.kind === "configurationSecrets")) {
      t.same(Object.keys(row.body).sort(), ["ct", "dek", "enc", "kek"], `${row.kind} body is sealed`);
    }
  });

  t.test("2. the window: delivered before it, gone after it, swept with the key", async (t) => {
    const before = await poll("c2");
    t.equal(before.status, 200);
    const items = before.json.fluxConfigurations as Array<{ name: string; generation: number; protectedSettings?: string }>;
    const sshItem = items.find((i) => i.name === "ssh");
    t.ok(sshItem?.protectedSettings, "the agent gets the sealed settings");
    const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(sshItem?.protectedSettings ?? "", agent.privateKey)).plaintext));
    t.equal(opened.protectedSettings.sshPrivateKey, sshKey, "sealed to the cluster's key: the agent opens them");
    t.equal(opened.sshKnownHostsContents, knownHosts);
    // the https one is acknowledged, the ssh one never is
    const ack = await report("c2", "https", { observedGeneration: 1, complianceState: "Compliant", protectedSettingsReceived: true });
    t.equal(ack.status, 200, ack.text);

    clock.advance(WINDOW_MS + 1000);
    const after = await poll("c2");
    t.notOk((after.json.fluxConfigurations as Array<{ protectedSettings?: string }>).some((i) => i.protectedSettings), "after the window no poll carries them (before any sweep)");
    const gotSsh = await arm(`${fluxConfigurationPath("c2", "ssh")}?${V}`);
    t.equal(gotSsh.json.properties.provisioningState, "Failed", "expired before delivery: Failed");
    t.equal(gotSsh.json.properties.errorMessage, EXPIRED_BEFORE_DELIVERY, "with what to do");
    t.equal(gotSsh.json.properties.gitRepository.sshKnownHosts, undefined, "known_hosts went with them");
    const gotHttps = await arm(`${fluxConfigurationPath("c2", "https")}?${V}`);
    t.equal(gotHttps.json.properties.provisioningState, "Succeeded", "delivered: left alone");
    t.equal(gotHttps.json.properties.complianceState, "Compliant");

    const keysBefore = (await rows()).filter((r) => r.kind === "secretKey").length;
    const sweep = await server.sweeper.runOnce();
    t.equal(sweep.purged, 2, "the sweeper purged both v2 secrets documents");
    const left = await rows();
    t.equal(left.filter((r) => r.kind === "configurationSecrets").length, 0, "no secrets document left");
    t.equal(left.filter((r) => r.kind === "secretKey").length, keysBefore - 2, "their keys were destroyed");
    const purgedLines = server.logs.filter((l) => l.includes("protectedSettingsPurged"));
    t.ok(purgedLines.some((l) => l.includes("fluxconfigurations/ssh") && l.includes("sshPrivateKey") && l.includes("sshKnownHosts")), "audited by value kind, never value");
    t.notOk(server.logs.join("\n").includes(sshKey), "never the value");
    const stillFailed = await arm(`${fluxConfigurationPath("c2", "ssh")}?${V}`);
    t.equal(stillFailed.json.properties.provisioningState, "Failed", "the record itself now says Failed");

    // a PATCH naming no protected settings does not hide that they are gone
    const patched = await arm(`${fluxConfigurationPath("c2", "ssh")}?${V}`, { method: "PATCH", body: { properties: { suspend: true } } });
    t.equal(patched.status, 202, patched.text);
    t.equal(patched.json.properties.provisioningState, "Failed", "still Failed after an unrelated PATCH");
    t.equal(patched.json.properties.errorMessage, EXPIRED_BEFORE_DELIVERY);

    // a PUT submitting them again clears the failure
    const again = await arm(`${fluxConfigurationPath("c2", "ssh")}?${V}`, { method: "PUT", body: fluxConfigurationBody({ configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() } }) });
    t.equal(again.status, 200, again.text);
    t.equal(again.json.properties.provisioningState, "Succeeded");
    t.equal(again.json.properties.complianceState, "Pending");
  });
};

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(`Flux v2 secrets on ${engine}: sealed at rest, kept at most the window, swept with their key`, scenario(engine));
}
