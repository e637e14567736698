/**
 * The migration with the reference agent (src/agent): a cluster with two Flux v1 configurations (one with an SSH
 * key) migrates in one action; after every poll the agent's manifests are either the Flux v1 ones of both
 * configurations or the Flux v2 objects (GitRepository, Kustomization, auth Secret) of both — the switch happens
 * in one poll; the v2 configurations reach Compliant on the agent's own reports; the SSH key in the v2 auth
 * Secret is the one submitted to v1, and it was never in clear anywhere else (responses, logs); a cluster whose
 * agent was offline during the migration switches on its first poll back.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { parse as parseYaml } from "yaml";
import { Agent, FLUX_V2_DIR, STATE_FILE } from "../../src/agent/agent.js";
import { AgentClient } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey } from "../../src/agent/keys.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";

const V1 = "api-version=2024-11-01";
const MV = "api-version=2026-12-01-preview";
const CV = "api-version=2024-01-01";

let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer({ agent: { stalenessMs: 1000 } });
  http = client(server.url, server.ca, server.token);
});
t.teardown(() => server.close());

/** what the agent has rendered: v1 configuration directories, v2 ones, and the kinds of the v2 objects */
function inventory(outDir: string): { v1: string[]; v2: string[]; v2Kinds: string[] } {
  const entries = fs.existsSync(outDir) ? fs.readdirSync(outDir, { withFileTypes: true }) : [];
  const v1 = entries.filter((e) => e.isDirectory() && e.name !== FLUX_V2_DIR && e.name !== STATE_FILE).map((e) => e.name).sort();
  const v2Dir = path.join(outDir, FLUX_V2_DIR);
  const v2 = fs.existsSync(v2Dir) ? fs.readdirSync(v2Dir).sort() : [];
  const v2Kinds = v2.flatMap((n) => fs.readdirSync(path.join(v2Dir, n)).filter((f) => f.endsWith(".yaml")).map((f) => String((parseYaml(fs.readFileSync(path.join(v2Dir, n, f), "utf8")) as { kind?: string }).kind)));
  return { v1, v2, v2Kinds: [...new Set(v2Kinds)].sort() };
}

async function cluster(name: string, key: string) {
  const agentKey = generateAgentKey("ec");
  const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(agentKey.publicKeyB64) });
  if (res.status !== 201) throw new Error(res.text);
  const apps = await http(`${configurationPath(name, "apps")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "git@github.com:example/apps.git", operatorNamespace: "apps", operatorParams: "--git-branch=main --git-path=clusters/prod,shared --git-readonly", configurationProtectedSettings: { sshPrivateKey: key }, sshKnownHostsContents: knownHostsB64() } } });
  if (apps.status !== 201) throw new Error(apps.text);
  const infra = await http(`${configurationPath(name, "infra")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/infra", operatorNamespace: "infra", operatorScope: "namespace", operatorParams: "--sync-garbage-collection" } } });
  if (infra.status !== 201) throw new Error(infra.text);
  const outDir = tempDir("migrate-agent-");
  const privateKey = loadAgentKey(agentKey.privateKeyPem);
  const agent = new Agent({ client: new AgentClient({ serviceUrl: server.url, clusterId: clusterPath(name), privateKey, ca: server.ca }), privateKey, outDir });
  return { agent, outDir };
}

const migrate = (name: string) => http(`${clusterPath(name)}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?${MV}`, { method: "POST", body: {} });
const isV1 = (i: ReturnType<typeof inventory>) => i.v1.join() === "apps,infra" && i.v2.length === 0;
const isV2 = (i: ReturnType<typeof inventory>) => i.v1.length === 0 && i.v2.join() === "apps,infra" && i.v2Kinds.includes("GitRepository") && i.v2Kinds.includes("Kustomization");

t.test("the agent's manifests switch from Flux v1 to Flux v2 objects in one poll", async (t) => {
  const key = sshPrivateKeyB64();
  const { agent, outDir } = await cluster("c-agent", key);
  const first = await agent.runOnce();
  t.equal(first.status, 200);
  t.ok(isV1(inventory(outDir)), "Flux v1 manifests of both configurations");

  // poll after poll while the migration commits; look at the manifests after every poll that brought something
  const seen: ReturnType<typeof inventory>[] = [];
  let stop = false;
  const polling = (async () => {
    while (!stop) {
      const r = await agent.runOnce({ waitSeconds: 1 });
      if (r.status === 200) seen.push(inventory(outDir));
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  const res = await migrate("c-agent");
  t.equal(res.status, 200, res.status === 200 ? "migrated" : res.text);
  const deadline = Date.now() + 8000;
  while (!seen.some(isV2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  await polling;
  t.ok(seen.length >= 1, `${seen.length} polls brought a new desired state`);
  for (const i of seen) t.ok(isV1(i) || isV2(i), `after a poll: v1 [${i.v1}], v2 [${i.v2}] (${i.v2Kinds})`);
  t.ok(isV2(seen[0] as ReturnType<typeof inventory>), "the first poll after the migration switched everything at once");

  // the v2 objects: the SSH key unsealed is the v1 one, the paths and the branch carried over
  const appsDir = path.join(outDir, FLUX_V2_DIR, "apps");
  const docs = fs.readdirSync(appsDir).filter((f) => f.endsWith(".yaml")).sort().map((f) => parseYaml(fs.readFileSync(path.join(appsDir, f), "utf8")) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  t.equal(docs.find((d) => d.kind === "Secret")?.data.identity, key, "the auth Secret holds the key submitted to v1");
  const repo = docs.find((d) => d.kind === "GitRepository");
  t.equal(repo?.spec.url, "ssh://git@github.com/example/apps.git");
  t.same(repo?.spec.ref, { branch: "main" });
  t.same(docs.filter((d) => d.kind === "Kustomization").map((d) => d.spec.path).sort(), ["./clusters/prod", "./shared"]);
  const infraDocs = fs.readdirSync(path.join(outDir, FLUX_V2_DIR, "infra")).filter((f) => f.endsWith(".yaml")).map((f) => parseYaml(fs.readFileSync(path.join(outDir, FLUX_V2_DIR, "infra", f), "utf8")) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  t.equal(infraDocs.find((d) => d.kind === "Kustomization")?.spec.prune, true, "--sync-garbage-collection became prune");

  // the agent reported: Compliant, and the v1 tombstones went
  for (const name of ["apps", "infra"]) {
    const got = await http(`${clusterPath("c-agent")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/${name}?${V1}`);
    t.equal(got.json?.properties?.complianceState, "Compliant", `${name} is Compliant`);
    t.notOk(got.text.includes(key));
  }
  const v1 = await http(`${clusterPath("c-agent")}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations?${V1}`);
  t.same(v1.json.value, [], "no v1 configuration left");
  for (const line of server.logs) t.notOk(line.includes(key), "the key is never logged");
  t.notOk(res.text.includes(key));
});

t.test("an agent offline during the migration switches on its first poll back", async (t) => {
  const { agent, outDir } = await cluster("c-offline", sshPrivateKeyB64());
  await agent.runOnce();
  t.ok(isV1(inventory(outDir)));
  t.equal((await migrate("c-offline")).status, 200);
  const back = await agent.runOnce();
  t.equal(back.status, 200);
  t.ok(isV2(inventory(outDir)), "one poll back: v1 removed, v2 applied");
  t.same(back.failed, []);
});
