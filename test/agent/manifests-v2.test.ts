/**
 * The reference agent's Flux v2 rendering (src/agent/manifests-v2.ts), pure: what it writes for SSH,
 * HTTPS and namespace-scoped configurations, and what it refuses whatever the service sent. Also the
 * service's pure Flux v2 helpers: merge-patch and the kustomization dependency cycle.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { parse as parseYaml } from "yaml";
import { renderFluxV2Manifests } from "../../src/agent/manifests-v2.js";
import type { DesiredFluxConfiguration, FluxStatusReport } from "../../src/contract/agent-api.js";
import { Agent, type AgentApi } from "../../src/agent/agent.js";
import type { PollResult } from "../../src/agent/client.js";
import { dependencyCycle, mergeFluxPatch } from "../../src/domain/validation/flux-configuration.js";

const base = (overrides: Partial<DesiredFluxConfiguration["properties"]> = {}): DesiredFluxConfiguration => ({
  name: "fleet",
  id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/fleet",
  generation: 3,
  deleted: false,
  properties: {
    scope: "cluster",
    namespace: "flux-system",
    sourceKind: "GitRepository",
    suspend: false,
    gitRepository: { url: "https://git.example/fleet.git", timeoutInSeconds: 600, syncIntervalInSeconds: 300, repositoryRef: { semver: ">=1.0.0 <2.0.0" }, httpsUser: "bot", httpsCACert: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" },
    kustomizations: { apps: APPS },
    ...overrides,
  },
});

const APPS = { path: "./apps", timeoutInSeconds: 600, syncIntervalInSeconds: 600, prune: false, force: true, wait: false };

const docs = (c: DesiredFluxConfiguration, secrets?: Parameters<typeof renderFluxV2Manifests>[1]) =>
  renderFluxV2Manifests(c, secrets).map((m) => ({ path: m.path, doc: parseYaml(m.yaml) as Record<string, any> }));

t.test("https: username from the plain httpsUser, password and CA as received", async (t) => {
  const out = docs(base(), { protectedSettings: { httpsKey: "dG9rZW4=" } });
  t.same(out.map((d) => d.path), ["fleet/00-namespace.yaml", "fleet/01-secret.yaml", "fleet/02-gitrepository.yaml", "fleet/03-kustomization.yaml"]);
  const secret = out[1]?.doc;
  t.same(secret?.data, { username: Buffer.from("bot").toString("base64"), password: "dG9rZW4=", "ca.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" });
  const repo = out[2]?.doc;
  t.same(repo?.spec, { url: "https://git.example/fleet.git", ref: { semver: ">=1.0.0 <2.0.0" }, interval: "300s", timeout: "600s", secretRef: { name: "fleet-auth" }, suspend: false });
  const k = out[3]?.doc;
  t.equal(k?.metadata.name, "fleet-apps");
  t.equal(k?.spec.force, true);
  t.equal(k?.spec.wait, false);
  t.equal(k?.metadata.annotations["kubernetesconfiguration.azure.com/generation"], "3");
});

t.test("namespace scope: an applier account bound in the namespace only; localAuthRef: no Secret of ours", async (t) => {
  const c = base({ scope: "namespace", gitRepository: { ...base().properties.gitRepository, httpsUser: undefined, httpsCACert: undefined, localAuthRef: "my-creds" } });
  const out = docs(c);
  t.same(out.map((d) => d.doc.kind), ["Namespace", "ServiceAccount", "Role", "RoleBinding", "GitRepository", "Kustomization"]);
  t.equal(out[4]?.doc.spec.secretRef.name, "my-creds");
  t.equal(out[5]?.doc.spec.serviceAccountName, "fleet-applier");
  t.equal(out[5]?.doc.spec.targetNamespace, "flux-system");
  t.equal(out[2]?.doc.kind, "Role", "never a ClusterRole for a namespace-scoped configuration");
});

t.test("refuses what must not reach a cluster, whatever the service sent", async (t) => {
  const g = base().properties.gitRepository;
  const cases: Array<[string, DesiredFluxConfiguration]> = [
    ["scp-like url", base({ gitRepository: { ...g, url: "git@github.com:x/y.git" } })],
    ["option-shaped host", base({ gitRepository: { ...g, url: "ssh://-oProxyCommand=evil/x" } })],
    ["credentials in url", base({ gitRepository: { ...g, url: "https://u:p@git.example/x" } })],
    ["bad namespace", base({ namespace: "Flux_System" })],
    ["path escaping", base({ kustomizations: { a: { ...APPS, path: "./../../etc" } } })],
    ["control character in a ref", base({ gitRepository: { ...g, repositoryRef: { branch: "main\nx" } } })],
    ["bucket", base({ sourceKind: "Bucket" })],
    ["object name over 63", base({ kustomizations: { ["k".repeat(60)]: APPS } })],
  ];
  for (const [what, c] of cases) t.throws(() => renderFluxV2Manifests(c, undefined), what);
});

t.test("merge-patch and dependency cycles", async (t) => {
  t.same(mergeFluxPatch({ a: { b: 1, c: 2 }, k: { x: { p: 1 }, y: { p: 2 } }, arr: [1, 2] }, { a: { c: null, d: 3 }, k: { x: null }, arr: [3] }), { a: { b: 1, d: 3 }, k: { y: { p: 2 } }, arr: [3] });
  t.same(dependencyCycle({ a: { dependsOn: ["b"] }, b: { dependsOn: ["c"] }, c: {} }), undefined);
  t.same(dependencyCycle({ a: { dependsOn: ["b"] }, b: { dependsOn: ["c"] }, c: { dependsOn: ["a"] } }), ["a", "b", "c", "a"]);
});

t.test("the agent: hostile fluxConfigurations are reported Non-Compliant without quoting them, nothing written; v1 and v2 of one name do not collide", async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "agent-v2-hostile-"));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const g = base().properties.gitRepository;
  const hostile: Record<string, DesiredFluxConfiguration> = {
    inject: { ...base({ gitRepository: { ...g, url: "ssh://-oProxyCommand=touch%20/tmp/pwned/a" } }), name: "inject" },
    token: { ...base({ gitRepository: { ...g, url: "https://git.example/a?access_token=SECRET-TOKEN-1" } }), name: "token" },
    "../escape": { ...base(), name: "../escape" },
  };
  const good = { ...base(), name: "good" };
  const v1Good = {
    name: "good",
    id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/good",
    generation: 1,
    deleted: false,
    properties: { repositoryUrl: "git@github.com:example/repo.git", operatorNamespace: "ns", operatorInstanceName: "good", operatorType: "Flux", operatorScope: "namespace" as const },
  };
  const reports: Array<{ name: string; report: FluxStatusReport }> = [];
  const client: AgentApi = {
    poll: async (): Promise<PollResult> => ({ status: 200, etag: '"1"', state: { generation: 1, pollIntervalSeconds: 5, configurations: [v1Good], fluxConfigurations: [...Object.values(hostile), good] } }),
    reportStatus: async () => ({ accepted: true }),
    reportFluxStatus: async (name, report) => {
      reports.push({ name, report });
      return { accepted: true };
    },
    heartbeat: async () => undefined,
  };
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const result = await new Agent({ client, privateKey, outDir: out }).runOnce();
  t.same(result.applied.sort(), ["_flux-v2/good", "good"], "v1 'good' and v2 'good' both applied, apart");
  t.same(result.failed.sort(), Object.keys(hostile).map((n) => `_flux-v2/${n}`).sort());
  for (const name of Object.keys(hostile)) {
    const report = reports.find((r) => r.name === name)?.report;
    t.equal(report?.complianceState, "Non-Compliant", name);
    t.notOk(/SECRET-TOKEN|ProxyCommand/.test(JSON.stringify(report)), `${name}: the report quotes nothing of the URL`);
  }
  t.notOk(fs.existsSync(path.join(out, "escape")) || fs.existsSync(path.join(out, "_flux-v2", "inject")), "nothing written for them");
  t.ok(fs.existsSync(path.join(out, "good", "00-namespace.yaml")), "the v1 manifests");
  t.ok(fs.existsSync(path.join(out, "_flux-v2", "good", "02-gitrepository.yaml")), "the v2 manifests, apart");
});
