import t from "tap";
import { parse } from "yaml";
import { FLUX_IMAGE, HELM_OPERATOR_IMAGE, renderManifests, splitArgs, parseSetValues } from "../../src/agent/manifests.js";
import type { DesiredConfiguration, UnsealedSettings } from "../../src/contract/agent-api.js";
import { toYaml } from "../../src/agent/yaml-emit.js";
import { REPOSITORY_URL_CASES } from "../helpers/repository-url-cases.js";

type Doc = Record<string, any>;

function configuration(props: Partial<DesiredConfiguration["properties"]> = {}, name = "cfg1"): DesiredConfiguration {
  return {
    name,
    id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/${name}`,
    generation: 3,
    deleted: false,
    properties: {
      repositoryUrl: "git@github.com:example/cluster-config.git",
      operatorNamespace: "team-a",
      operatorInstanceName: "flux-a",
      operatorType: "Flux",
      operatorScope: "namespace",
      operatorParams: "--git-readonly --git-branch=main",
      ...props,
    },
  };
}

function render(c: DesiredConfiguration, s?: UnsealedSettings) {
  const out = renderManifests(c, s);
  return out.map((m) => ({ path: m.path, doc: parse(m.yaml) as Doc }));
}
const find = (docs: Array<{ doc: Doc }>, kind: string, name?: string) => docs.find((d) => d.doc.kind === kind && (name === undefined || d.doc.metadata.name === name))?.doc;
const fluxContainer = (docs: Array<{ doc: Doc }>) => find(docs, "Deployment", "flux-a")?.spec.template.spec.containers[0];

t.test("paths are <name>/NN-<kind>.yaml in apply order", async (t) => {
  const docs = render(configuration());
  t.ok(docs.every((d, i) => d.path === `cfg1/${String(i).padStart(2, "0")}-${String(d.doc.kind).toLowerCase()}.yaml`), docs.map((d) => d.path).join(","));
  t.equal(docs[0]?.doc.kind, "Namespace");
  t.equal(docs[0]?.doc.metadata.name, "team-a");
  t.equal(find(docs, "ServiceAccount", "flux-a")?.metadata.namespace, "team-a");
});

t.test("namespace scope: Role + RoleBinding in the namespace, --k8s-allow-namespace", async (t) => {
  const docs = render(configuration({ operatorScope: "namespace" }));
  t.notOk(find(docs, "ClusterRole"));
  t.notOk(find(docs, "ClusterRoleBinding"));
  const role = find(docs, "Role", "flux-a");
  t.equal(role?.metadata.namespace, "team-a");
  const binding = find(docs, "RoleBinding", "flux-a");
  t.equal(binding?.metadata.namespace, "team-a");
  t.same(binding?.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "flux-a" });
  t.same(binding?.subjects, [{ kind: "ServiceAccount", name: "flux-a", namespace: "team-a" }]);
  t.ok(fluxContainer(docs).args.includes("--k8s-allow-namespace=team-a"));
});

t.test("cluster scope: ClusterRole + ClusterRoleBinding, no namespace restriction", async (t) => {
  const docs = render(configuration({ operatorScope: "cluster" }));
  t.notOk(find(docs, "Role"));
  t.notOk(find(docs, "RoleBinding"));
  const role = find(docs, "ClusterRole");
  t.ok(role);
  t.notOk(role?.metadata.namespace);
  t.ok(role?.rules.some((r: Doc) => r.nonResourceURLs));
  const binding = find(docs, "ClusterRoleBinding");
  t.equal(binding?.roleRef.kind, "ClusterRole");
  t.equal(binding?.roleRef.name, role?.metadata.name);
  t.same(binding?.subjects, [{ kind: "ServiceAccount", name: "flux-a", namespace: "team-a" }]);
  t.notOk(fluxContainer(docs).args.some((a: string) => a.startsWith("--k8s-allow-namespace")));
});

t.test("flux Deployment: image, git url, secret name, operatorParams split with quotes", async (t) => {
  const docs = render(configuration({ operatorParams: `--git-readonly --git-path='apps/team a' --git-user="Flux Bot" --git-branch=main` }));
  const c = fluxContainer(docs);
  t.equal(c.image, FLUX_IMAGE);
  t.equal(find(docs, "Deployment", "flux-a")?.spec.template.spec.serviceAccountName, "flux-a");
  t.equal(c.args[0], "--git-url=git@github.com:example/cluster-config.git");
  t.ok(c.args.includes("--k8s-secret-name=flux-a-git-deploy"));
  t.ok(c.args.includes("--git-readonly"));
  t.ok(c.args.includes("--git-path=apps/team a"));
  t.ok(c.args.includes("--git-user=Flux Bot"));
  t.ok(c.args.includes("--git-branch=main"));
  t.notOk(c.env, "no credentials env without https settings");
});

t.test("splitArgs and parseSetValues", async (t) => {
  t.same(splitArgs(`a  'b c' "d \\"e\\"" f\\ g x='' `), ["a", "b c", 'd "e"', "f g", "x="]);
  t.same(splitArgs(undefined), []);
  t.throws(() => splitArgs("--git-path='unterminated"));
  t.same(parseSetValues("--set helm.versions=v3 --set=a=1,b=x=y --other"), [["helm.versions", "v3"], ["a", "1"], ["b", "x=y"]]);
});

t.test("no secrets: empty git-deploy Secret (Flux writes its key there), no auth Secret, no known_hosts", async (t) => {
  const docs = render(configuration());
  const deploy = find(docs, "Secret", "flux-a-git-deploy");
  t.ok(deploy);
  t.notOk(deploy?.data);
  t.notOk(find(docs, "Secret", "flux-a-git-auth"));
  t.notOk(find(docs, "ConfigMap"));
  t.notOk(fluxContainer(docs).volumeMounts.some((m: Doc) => m.mountPath === "/root/.ssh"));
});

t.test("secrets present: identity as given, https credentials via env, known_hosts mounted at /root/.ssh", async (t) => {
  const ssh = Buffer.from("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n").toString("base64");
  const knownHosts = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
  const secrets: UnsealedSettings = {
    protectedSettings: { sshPrivateKey: ssh, httpsUser: Buffer.from("bot").toString("base64"), httpsKey: Buffer.from("s3cr3t:/@").toString("base64") },
    sshKnownHostsContents: Buffer.from(knownHosts).toString("base64"),
  };
  const docs = render(configuration({ repositoryUrl: "https://github.com/example/repo.git" }), secrets);
  t.same(find(docs, "Secret", "flux-a-git-deploy")?.data, { identity: ssh });
  t.same(find(docs, "Secret", "flux-a-git-auth")?.data, { username: secrets.protectedSettings.httpsUser, password: secrets.protectedSettings.httpsKey });
  const cm = find(docs, "ConfigMap", "flux-a-ssh-config");
  t.equal(cm?.data.known_hosts, knownHosts, "decoded text");
  const c = fluxContainer(docs);
  t.same(
    c.env.map((e: Doc) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]),
    [
      ["GIT_AUTHUSER", "flux-a-git-auth", "username"],
      ["GIT_AUTHKEY", "flux-a-git-auth", "password"],
    ],
  );
  t.equal(c.args[0], "--git-url=https://$(GIT_AUTHUSER):$(GIT_AUTHKEY)@github.com/example/repo.git");
  t.ok(c.volumeMounts.some((m: Doc) => m.name === "ssh-config" && m.mountPath === "/root/.ssh"));
  const volumes = find(docs, "Deployment", "flux-a")?.spec.template.spec.volumes;
  t.ok(volumes.some((v: Doc) => v.configMap?.name === "flux-a-ssh-config"));
  t.ok(volumes.some((v: Doc) => v.secret?.secretName === "flux-a-git-deploy"));
  const all = renderManifests(configuration({ repositoryUrl: "https://github.com/example/repo.git" }), secrets).map((m) => m.yaml).join("\n");
  t.notOk(all.includes("s3cr3t"), "https key never appears in clear");
});

t.test("helm operator: only when enabled; image, chart values mapped to flags, the rest recorded", async (t) => {
  t.notOk(find(render(configuration()), "Deployment", "flux-a-helm-operator"));
  const docs = render(
    configuration({
      enableHelmOperator: true,
      operatorScope: "namespace",
      helmOperatorProperties: { chartVersion: "1.4.0", chartValues: "--set helm.versions=v3 --set workers=4,image.tag=x" },
    }),
  );
  const d = find(docs, "Deployment", "flux-a-helm-operator");
  t.ok(d);
  const c = d?.spec.template.spec.containers[0];
  t.equal(c.image, HELM_OPERATOR_IMAGE);
  t.ok(c.args.includes("--enabled-helm-versions=v3"));
  t.ok(c.args.includes("--workers=4"));
  t.ok(c.args.includes("--allow-namespace=team-a"));
  t.equal(d?.metadata.labels["helm.sh/chart"], "helm-operator-1.4.0");
  t.same(JSON.parse(d?.metadata.annotations["kubernetesconfiguration.azure.com/unmapped-chart-values"]), { "image.tag": "x" });
  const cluster = find(render(configuration({ enableHelmOperator: true, operatorScope: "cluster" })), "Deployment", "flux-a-helm-operator");
  t.same(cluster?.spec.template.spec.containers[0].args, ["--enabled-helm-versions=v3"]);
});

t.test("the emitter round-trips awkward strings through a real YAML parser", async (t) => {
  const value = { a: "yes", b: "1.4.0", c: "x: y", d: "line1\nline2\n", e: "", f: [], g: {}, h: [{ i: "-x", j: [1, true, null] }], "k/l": "#", "0n": "~" };
  t.same(parse(toYaml(value)), value);
  t.throws(() => renderManifests(configuration({}, "../evil"), undefined));
});

t.test("the repository URL rule: every refused URL of the shared table is not rendered, every accepted one is", async (t) => {
  for (const [url, expected] of REPOSITORY_URL_CASES) {
    const c = configuration({ repositoryUrl: url });
    if (typeof expected === "string") {
      t.equal(fluxContainer(render(c)).args[0], `--git-url=${url.replace(/\$/g, "$$$$")}`, `rendered: ${JSON.stringify(url.slice(0, 60))}`);
      continue;
    }
    let message = "(rendered)";
    try {
      renderManifests(c, undefined);
    } catch (err) {
      message = (err as Error).message;
    }
    t.match(message, /^the repository URL is refused: /, `refused: ${JSON.stringify(url.slice(0, 60)).replace(/[^\x20-\x7e]/g, "?")}`);
    t.notOk(url.length > 0 && message.includes(url), "the error (it becomes the status message) does not quote the URL");
  }
});

t.test("a hostile desired configuration planted past the service is not rendered", async (t) => {
  const refused: Array<[Partial<DesiredConfiguration["properties"]>, RegExp]> = [
    [{ repositoryUrl: "ssh://-oProxyCommand=touch%20x/a" }, /host starts with '-'/],
    [{ repositoryUrl: "https://github.com/a/b?access_token=abc" }, /credential/],
    [{ repositoryUrl: "https://github.com/a/b\u001b[2J" }, /control character/],
    [{ operatorParams: "--git-url=ssh://-oProxyCommand=x/a" }, /may not set --git-url/],
    [{ operatorParams: "--git-readonly --git-url ssh://-oProxyCommand=x/a" }, /may not set --git-url/],
    [{ operatorParams: "--k8s-secret-name=other" }, /may not set --k8s-secret-name/],
    [{ operatorParams: "--ssh-keygen-dir=/tmp" }, /may not set --ssh-keygen-dir/],
    [{ operatorParams: "--k8s-allow-namespace=kube-system" }, /may not set --k8s-allow-namespace/],
    [{ operatorParams: "--git-readonly --" }, /'--'/],
    [{ operatorParams: "--git-user='a\nb'" }, /control character/],
    [{ operatorParams: "--git-user=a\u0000b" }, /control character/],
    [{ operatorParams: "--git-user='unclosed" }, /quote is not closed/],
    [{ operatorNamespace: "-n" }, /operatorNamespace is not a DNS-1123 label/],
    [{ operatorNamespace: "Team" }, /operatorNamespace is not a DNS-1123 label/],
    [{ operatorNamespace: "a\nb" }, /operatorNamespace is not a DNS-1123 label/],
    [{ operatorInstanceName: "--flux" }, /operatorInstanceName is not a DNS-1123 label/],
    [{ operatorInstanceName: "a".repeat(64) }, /operatorInstanceName is not a DNS-1123 label/],
    [{ enableHelmOperator: true, helmOperatorProperties: { chartValues: "--set git.defaultRef=--upload-pack=x" } }, /chart value 'git.defaultRef'/],
    [{ enableHelmOperator: true, helmOperatorProperties: { chartValues: "--set 'workers=1\n2'" } }, /chart value 'workers'/],
  ];
  for (const [props, why] of refused) {
    t.throws(() => renderManifests(configuration(props), undefined), why, JSON.stringify(props).slice(0, 80));
  }
  t.throws(() => renderManifests(configuration({}, "a\u0007b"), undefined), /configuration name cannot be used/);
});

t.test("'$' from the configuration is written '$$': Kubernetes expands only the agent's own $(GIT_AUTH…)", async (t) => {
  const secrets: UnsealedSettings = { protectedSettings: { httpsUser: Buffer.from("bot").toString("base64"), httpsKey: Buffer.from("k").toString("base64") } };
  const docs = render(
    configuration({
      repositoryUrl: "https://github.com/example/$(GIT_AUTHKEY)",
      operatorParams: "--git-user=$(GIT_AUTHKEY) --git-email='a$b'",
      enableHelmOperator: true,
      helmOperatorProperties: { chartValues: "--set git.defaultRef=$(GIT_AUTHKEY)" },
    }),
    secrets,
  );
  const args = fluxContainer(docs).args as string[];
  t.equal(args[0], "--git-url=https://$(GIT_AUTHUSER):$(GIT_AUTHKEY)@github.com/example/$$(GIT_AUTHKEY)");
  t.ok(args.includes("--git-user=$$(GIT_AUTHKEY)"), args.join(" "));
  t.ok(args.includes("--git-email=a$$b"));
  const helm = find(docs, "Deployment", "flux-a-helm-operator")?.spec.template.spec.containers[0];
  t.ok(helm.args.includes("--git-default-ref=$$(GIT_AUTHKEY)"), helm.args.join(" "));
});

t.test("helm chart version: a semantic version only; '+' is written '_' in the helm.sh/chart label, as Helm does", async (t) => {
  const helm = (chartVersion: string) => configuration({ enableHelmOperator: true, helmOperatorProperties: { chartVersion } });
  const d = find(render(helm("1.4.0+build.5")), "Deployment", "flux-a-helm-operator");
  t.equal(d?.metadata.labels["helm.sh/chart"], "helm-operator-1.4.0_build.5");
  for (const bad of ["latest", "1.4.0\n", "-1.4.0", "1.4.0 --x", "1.4"]) t.throws(() => renderManifests(helm(bad), undefined), /chart version is not a semantic version/, JSON.stringify(bad));
});
