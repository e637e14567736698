/**
 * The hook the v1 -> v2 migration (issue #16 part 2) builds on: `FluxConfigurations.stageMigrated` writes a
 * fluxConfiguration inside the caller's unit of work, past the one-Flux-version rule, so that retiring the
 * v1 configuration and creating the v2 one commit together as ONE desired-state version: the agent's next
 * poll sees "remove v1, apply v2" at once, never both live nor neither. The protected settings carried over
 * keep their original submission time (the 48-hour clock does not restart).
 */
import t from "tap";
import { compactDecrypt } from "jose";
import { fluxConfigurationRef, clusterRef, configurationId } from "../../src/arm/resource-ids.js";
import { tombstoneOf } from "../../src/domain/configurations.js";
import { announce } from "../../src/domain/changes.js";
import { Persistence } from "../../src/persistence/index.js";
import { startServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, RG, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";

t.test("retire v1 and create v2 in one unit of work: one desired-state version", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const arm = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  const raw = client(server.url, server.ca);
  const poll = async () => raw(`/agent/v1${clusterPath("mig")}/configurations`, { token: await agent.token(clusterPath("mig")) });

  t.equal((await arm(`${clusterPath("mig")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const key = sshPrivateKeyB64();
  const hosts = knownHostsB64();
  const v1 = await arm(`${configurationPath("mig", "cfg")}?api-version=2024-11-01`, {
    method: "PUT",
    body: configurationBody({ repositoryUrl: "ssh://git@github.com/example/fleet.git", configurationProtectedSettings: { sshPrivateKey: key }, sshKnownHostsContents: hosts }),
  });
  t.equal(v1.status, 201, v1.text);
  const before = await poll();
  t.equal(before.status, 200);
  const version = before.json.generation as number;

  const repo = new Persistence(server.store, server.codec);
  const cluster = clusterRef(SUB, RG, "mig");
  const v1Id = configurationId(cluster.id, "cfg");
  const v1Secrets = await repo.secrets.get(SUB, v1Id);
  const submittedAt = v1Secrets?.record.submittedAt ?? 0;
  t.ok(submittedAt > 0, "the v1 secrets' submission time");
  const flux = server.services.fluxConfigurations;
  const ref = fluxConfigurationRef(cluster, "cfg");

  // what the public PUT answers while the v1 configuration is live
  const refused = await arm(`${clusterPath("mig")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/cfg?api-version=2024-11-01`, {
    method: "PUT",
    body: { properties: { gitRepository: { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main" } } } },
  });
  t.equal(refused.json?.error?.code, "FluxVersionConflict", "outside the migration the rule holds");

  await repo.atomically(async () => {
    const found = await repo.configurations.get(SUB, v1Id);
    if (!found) throw new Error("no v1 configuration");
    const retire = await repo.configurations.prepare(SUB, tombstoneOf(found.record), found.etag, true);
    await retire();
    await repo.secrets.delete(SUB, v1Id);
    await announce(repo, undefined, SUB, cluster.id, "configurations");
    const { created } = await flux.stageMigrated(
      ref,
      {
        scope: "cluster",
        namespace: "flux",
        gitRepository: { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main" }, sshKnownHosts: hosts },
        kustomizations: { cfg: { path: "./", prune: true } },
        configurationProtectedSettings: { sshPrivateKey: key },
      },
      { by: "migration", byType: "Application", at: new Date().toISOString() },
      submittedAt,
    );
    t.equal(created, true);
  });

  const after = await poll();
  t.equal(after.status, 200);
  t.equal(after.json.generation, version + 1, "ONE desired-state version for both changes");
  const v1After = (after.json.configurations as Array<{ name: string; deleted: boolean; protectedSettings?: string }>).find((c) => c.name === "cfg");
  t.equal(v1After?.deleted, true, "the v1 configuration is retired (a tombstone for the agent)");
  t.notOk(v1After?.protectedSettings);
  const v2 = (after.json.fluxConfigurations as Array<{ name: string; deleted: boolean; protectedSettings?: string }>).find((c) => c.name === "cfg");
  t.equal(v2?.deleted, false, "and the v2 one is live, in the same version");
  const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(v2?.protectedSettings ?? "", agent.privateKey)).plaintext));
  t.equal(opened.protectedSettings.sshPrivateKey, key, "the key carried over, sealed to the cluster");
  const stored = await repo.secrets.get(SUB, ref.id);
  t.equal(stored?.record.submittedAt, submittedAt, "the 48-hour clock did not restart");
  t.equal(stored?.expiresAt, v1Secrets?.expiresAt, "the v2 secrets expire when the v1 ones would have");
  const got = await arm(`${clusterPath("mig")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/cfg?api-version=2024-11-01`);
  t.equal(got.status, 200);
  t.equal(got.json.systemData.createdBy, "migration");
});
