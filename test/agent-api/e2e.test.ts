/**
 * End to end, as a platform engineer and a cluster would do it: the official SDK clients create a
 * cluster (with the reference agent's public key) and a configuration with protected settings; the
 * reference agent (src/agent) receives it within one long poll, unseals the secrets (equal to what was
 * sent), writes the manifests, reports Installed with its deploy key; the SDK shows that. An update
 * reaches the agent with a new generation; a delete arrives as a tombstone, the agent removes it and the
 * tombstone disappears.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { ConnectedKubernetesClient } from "@azure/arm-hybridkubernetes";
import { SourceControlConfigurationClient } from "@azure/arm-kubernetesconfiguration";
import type { TokenCredential } from "@azure/identity";
import { Agent, type AppliedEvent } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { knownHostsB64, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";

const RG = "rg-e2e";
const CLUSTER = "edge-1";
let server: TestServer;

t.before(async () => {
  server = await startServer({ agent: { stalenessMs: 1000 } });
});
t.teardown(() => server.close());

t.test("SDK -> service -> reference agent -> service -> SDK", async (t) => {
  const credential: TokenCredential = { getToken: async () => ({ token: server.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const options = { endpoint: server.url, tlsOptions: { ca: server.ca }, retryOptions: { maxRetries: 0 } };
  const hk = new ConnectedKubernetesClient(credential, SUB, options);
  const scc = new SourceControlConfigurationClient(credential, SUB, options);

  const key = generateAgentKey("ec");
  const cluster = await hk.connectedClusterOperations.beginCreateAndWait(RG, CLUSTER, { location: "westeurope", identity: { type: "SystemAssigned" }, agentPublicKeyCertificate: key.publicKeyB64 });
  const clusterId = cluster.id ?? "";

  const outDir = tempDir("agent-out-");
  const applied: AppliedEvent[] = [];
  let notify: (() => void) | undefined;
  const next = () => new Promise<void>((resolve) => (notify = resolve));
  const privateKey = loadAgentKey(key.privateKeyPem);
  const agent = new Agent({
    client: new AgentClient({ serviceUrl: server.url, clusterId, privateKey, ca: server.ca }),
    privateKey,
    outDir,
    waitSeconds: 20,
    heartbeat: { kubernetesVersion: "1.30.2", totalNodeCount: 3 },
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
  // let the agent settle into its long poll on an empty desired state
  await new Promise((r) => setTimeout(r, 500));

  const sshKey = sshPrivateKeyB64();
  const hosts = knownHostsB64("github.com");
  const first = next();
  const sent = Date.now();
  await scc.sourceControlConfigurations.createOrUpdate(RG, "Microsoft.Kubernetes", "connectedClusters", CLUSTER, "baseline", {
    repositoryUrl: "git@github.com:example/fleet-baseline.git",
    operatorNamespace: "flux-system",
    operatorScope: "cluster",
    operatorParams: "--git-readonly --git-branch=main",
    configurationProtectedSettings: { sshPrivateKey: sshKey },
    sshKnownHostsContents: hosts,
  });
  await first;
  const latencyMs = Date.now() - sent;
  t.ok(latencyMs < 5000, `the agent received it within one long poll (${latencyMs} ms)`);
  const event = applied.at(-1);
  t.match(event, { name: "baseline", generation: 1, removed: false, accepted: true });
  const all = (event?.files ?? []).map((f) => fs.readFileSync(f, "utf8")).join("\n");
  t.match(all, /--git-url=git@github.com:example\/fleet-baseline.git/, "the Flux deployment points at the repository");
  t.match(all, /kind: ClusterRole\b/, "cluster scope gets cluster-wide RBAC");
  t.ok(all.includes(sshKey), "the SSH key secret holds exactly the key that was sent");
  t.ok(all.includes(Buffer.from(hosts, "base64").toString("utf8").trim()), "the known_hosts config map holds the hosts that were sent");

  // what the agent reported is what the SDK shows
  await new Promise((r) => setTimeout(r, 100));
  const shown = await scc.sourceControlConfigurations.get(RG, "Microsoft.Kubernetes", "connectedClusters", CLUSTER, "baseline");
  t.equal(shown.complianceStatus?.complianceState, "Installed");
  t.match(shown.repositoryPublicKey, /^ssh-ed25519 /, "the deploy key generated in the cluster");
  t.same(shown.configurationProtectedSettings, {}, "and still no protected settings in the ARM response");
  const seen = await hk.connectedClusterOperations.get(RG, CLUSTER);
  t.equal(seen.connectivityStatus, "Connected", "the agent's heartbeat shows");
  t.equal(seen.kubernetesVersion, "1.30.2");

  // an update reaches the agent with the next generation
  const second = next();
  await scc.sourceControlConfigurations.createOrUpdate(RG, "Microsoft.Kubernetes", "connectedClusters", CLUSTER, "baseline", {
    repositoryUrl: "git@github.com:example/fleet-baseline.git",
    operatorNamespace: "flux-system",
    operatorScope: "cluster",
    operatorParams: "--git-readonly --git-branch=release",
  });
  await second;
  t.match(applied.at(-1), { name: "baseline", generation: 2 });
  t.match(fs.readFileSync((applied.at(-1)?.files ?? []).find((f) => /flux|deployment/i.test(path.basename(f))) ?? (applied.at(-1)?.files[0] ?? ""), "utf8") + (applied.at(-1)?.files ?? []).map((f) => fs.readFileSync(f, "utf8")).join(""), /--git-branch=release/);

  // a delete arrives as a tombstone; once removed it disappears
  const third = next();
  await scc.sourceControlConfigurations.beginDeleteAndWait(RG, "Microsoft.Kubernetes", "connectedClusters", CLUSTER, "baseline", { updateIntervalInMs: 10 });
  await third;
  t.match(applied.at(-1), { name: "baseline", removed: true, accepted: true });
  t.notOk(fs.existsSync(path.join(outDir, "baseline")), "the manifests were removed");
  const left = await server.store.inner.list({ kind: "configuration", partition: SUB.toLowerCase(), includeDeleted: true }, { limit: 10 });
  t.same(left.items.filter((d) => d.key.endsWith("/baseline")), [], "the tombstone is gone from the store");
});
