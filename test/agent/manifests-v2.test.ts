/**
 * The reference agent's Flux v2 rendering (src/agent/manifests-v2.ts), pure: what it writes for SSH,
 * HTTPS and namespace-scoped configurations, and what it refuses whatever the service sent. Also the
 * service's pure Flux v2 helpers: merge-patch and the kustomization dependency cycle.
 */
import t from "tap";
import { parse as parseYaml } from "yaml";
import { renderFluxV2Manifests } from "../../src/agent/manifests-v2.js";
import type { DesiredFluxConfiguration } from "../../src/agent/types.js";
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
