/**
 * Flux v2 end to end (issue #16): the official SDK creates a cluster and a fluxConfiguration (SSH key,
 * known_hosts, two kustomizations); the reference agent receives it in its long poll, unseals the key
 * (equal to what was sent), writes GitRepository, Kustomizations and the auth Secret, reports; the
 * configuration reaches Compliant with its statuses, and the protected settings are acknowledged. An
 * update (PATCH: suspend) reaches it as a new generation (Suspended); a delete arrives as a tombstone,
 * the agent removes the objects, and the SDK's delete operation completes.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { parse as parseYaml } from "yaml";
import { ConnectedKubernetesClient } from "@azure/arm-hybridkubernetes";
import { SourceControlConfigurationClient } from "@azure/arm-kubernetesconfiguration";
import type { TokenCredential } from "@azure/identity";
import { Agent, FLUX_V2_DIR, type AppliedEvent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";

const RG = "rg-flux-e2e";
const CLUSTER = "edge-v2";
let server: TestServer;

t.before(async () => {
  server = await startServer({ agent: { stalenessMs: 1000 } });
});
t.teardown(() => server.close());

t.test("SDK -> service -> reference agent (Flux v2 objects) -> service -> SDK", async (t) => {
  const credential: TokenCredential = { getToken: async () => ({ token: server.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const options = { endpoint: server.url, tlsOptions: { ca: server.ca }, retryOptions: { maxRetries: 0 }, apiVersion: "2024-11-01" };
  const hk = new ConnectedKubernetesClient(credential, SUB, { ...options, apiVersion: "2024-01-01" });
  const flux = new SourceControlConfigurationClient(credential, SUB, options).fluxConfigurations;
  const at = ["Microsoft.Kubernetes", "connectedClusters", CLUSTER] as const;

  const key = generateAgentKey("ec");
  const cluster = await hk.connectedClusterOperations.beginCreateAndWait(RG, CLUSTER, { location: "westeurope", identity: { type: "SystemAssigned" }, agentPublicKeyCertificate: key.publicKeyB64 });
  const clusterId = cluster.id ?? "";

  const outDir = tempDir("agent-v2-out-");
  const applied: AppliedEvent[] = [];
  let notify: (() => void) | undefined;
  const next = () => new Promise<void>((resolve) => (notify = resolve));
  const privateKey = loadAgentKey(key.privateKeyPem);
  const agent = new Agent({
    client: new AgentClient({ serviceUrl: server.url, clusterId, privateKey, ca: server.ca }),
    privateKey,
    outDir,
    waitSeconds: 20,
    onApplied: (e) => {
      applied.push(e);
      notify?.();
    },
  });
  const stop = new AbortController();
  const running = agent.run({ signal: stop.signal });
  t.teardown(async () => {
    stop.abort();
    await running.catch(() => undefined);
  });
  await new Promise((r) => setTimeout(r, 300));

  const sshKey = sshPrivateKeyB64();
  const hosts = knownHostsB64("github.com");
  const first = next();
  const sent = Date.now();
  await flux.beginCreateOrUpdateAndWait(
    RG,
    ...at,
    "fleet",
    {
      namespace: "flux-system",
      scope: "cluster",
      gitRepository: { url: "ssh://git@github.com/example/fleet.git", repositoryRef: { branch: "main", commit: "0123456789abcdef0123456789abcdef01234567" }, sshKnownHosts: hosts },
      kustomizations: { infra: { path: "./infrastructure", prune: true }, apps: { path: "./apps", dependsOn: ["infra"], postBuild: { substitute: { region: "westeurope" } } } },
      configurationProtectedSettings: { sshPrivateKey: sshKey },
    },
    { updateIntervalInMs: 10 },
  );
  await first;
  t.ok(Date.now() - sent < 5000, `the agent received it within one long poll (${Date.now() - sent} ms)`);
  const event = applied.at(-1);
  t.equal(event?.kind, "v2");
  t.equal(event?.name, "fleet");
  t.equal(event?.accepted, true);

  const dir = path.join(outDir, FLUX_V2_DIR, "fleet");
  const docs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => parseYaml(fs.readFileSync(path.join(dir, f), "utf8")) as Record<string, any>);
  t.same(docs.map((d) => d.kind), ["Namespace", "Secret", "GitRepository", "Kustomization", "Kustomization"]);
  const secret = docs[1];
  t.equal(secret?.data.identity, sshKey, "the unsealed key equals what was sent (still base64, never decoded)");
  t.equal(secret?.data.known_hosts, hosts);
  t.equal((fs.statSync(path.join(dir, "01-secret.yaml")).mode & 0o777).toString(8), "600", "Secrets are written 0600");
  const repo = docs[2];
  t.equal(repo?.apiVersion, "source.toolkit.fluxcd.io/v1");
  t.same(repo?.spec.ref, { branch: "main", commit: "0123456789abcdef0123456789abcdef01234567" });
  t.equal(repo?.spec.secretRef.name, "fleet-auth");
  t.equal(repo?.spec.interval, "600s", "default interval");
  const apps = docs.find((d) => d.metadata.name === "fleet-apps");
  t.same(apps?.spec.dependsOn, [{ name: "fleet-infra" }]);
  t.same(apps?.spec.sourceRef, { kind: "GitRepository", name: "fleet" });
  t.same(apps?.spec.postBuild, { substitute: { region: "westeurope" } });
  t.equal(docs.find((d) => d.metadata.name === "fleet-infra")?.spec.prune, true);

  const got = await flux.get(RG, ...at, "fleet");
  t.equal(got.complianceState, "Compliant", "the configuration reaches Compliant");
  t.same(got.statuses?.map((s) => `${s?.kind}/${s?.name}`), ["GitRepository/fleet", "Kustomization/fleet-infra", "Kustomization/fleet-apps"]);
  t.equal(got.statuses?.[0]?.statusConditions?.[0]?.type, "Ready");
  t.equal(got.sourceSyncedCommitId, "main@sha1:0123456789abcdef0123456789abcdef01234567");
  t.ok(got.sourceUpdatedAt instanceof Date);
  t.ok(got.statusUpdatedAt instanceof Date);
  t.match(got.repositoryPublicKey ?? "", /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) /, "the public half of the user's key is reported");

  // an update: suspended
  const second = next();
  await flux.beginUpdateAndWait(RG, ...at, "fleet", { suspend: true }, { updateIntervalInMs: 10 });
  await second;
  const suspended = await flux.get(RG, ...at, "fleet");
  t.equal(suspended.complianceState, "Suspended");
  const repoAgain = parseYaml(fs.readFileSync(path.join(dir, "02-gitrepository.yaml"), "utf8")) as Record<string, any>;
  t.equal(repoAgain.spec.suspend, true, "the agent rendered the new generation");
  t.equal(repoAgain.metadata.annotations["kubernetesconfiguration.azure.com/generation"], "2");

  // the delete completes when the agent has removed the objects
  const third = next();
  const deleting = flux.beginDeleteAndWait(RG, ...at, "fleet", { updateIntervalInMs: 50 });
  await third;
  t.equal(applied.at(-1)?.removed, true);
  await deleting;
  t.notOk(fs.existsSync(dir), "the Flux objects are gone from the cluster");
  const after = await flux.get(RG, ...at, "fleet").catch((e: { statusCode?: number }) => e);
  t.equal((after as { statusCode?: number }).statusCode, 404);
});
