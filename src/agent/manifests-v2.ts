/**
 * What Flux v2 reconciles, for one fluxConfiguration (issue #16). Pure: same input, same output. The
 * Flux v2 controllers themselves (source-controller, kustomize-controller: Azure's microsoft.flux
 * extension) are assumed installed; these are the objects they act on.
 *
 * Per fluxConfiguration N (files `<N>/NN-<kind>.yaml` under the agent's `_flux-v2/` directory, NN in apply order):
 *   Namespace <namespace>
 *   Secret N-auth (type Opaque) unless gitRepository.localAuthRef names one already on the cluster, with the
 *     keys source-controller reads: `identity` (sshPrivateKey, base64 exactly as received) and `known_hosts`
 *     (sshKnownHosts) for ssh://; `username` (httpsUser, plain in the resource, base64 here) and `password`
 *     (httpsKey, as received) for https://; `ca.crt` (httpsCACert). Omitted when it would be empty.
 *   scope `namespace`: ServiceAccount N-applier, Role + RoleBinding N-applier in <namespace> only; each
 *     Kustomization then applies as that account into <namespace> (serviceAccountName, targetNamespace)
 *   GitRepository N (source.toolkit.fluxcd.io/v1): url, ref {branch|tag|semver|commit}, interval, timeout, secretRef, suspend
 *   Kustomization N-<k> (kustomize.toolkit.fluxcd.io/v1) per kustomization k: sourceRef the GitRepository,
 *     path, interval, timeout, retryInterval, prune, force, wait, dependsOn (N-<dep>), postBuild, suspend
 *
 * What it refuses to render, whatever the service sent (a hostile or stale store must not reach a cluster):
 *   a URL failing the URL rule (src/contract/repository-url.ts), or not ssh:// / https:// (Flux v2 takes no scp-like form);
 *   names that are not DNS-1123 labels (namespace, configuration, kustomizations, `<N>-<k>` over 63);
 *   a kustomization path with a '..' segment or a control character; refs or values with control characters;
 *   a source kind other than GitRepository.
 */
import { checkRepositoryUrl } from "../contract/repository-url.js";
import type { DesiredFluxConfiguration, UnsealedSettings } from "../contract/agent-api.js";
import { toYaml } from "./yaml-emit.js";
import { MANAGED_BY, type RenderedManifest } from "./manifests.js";

type Obj = Record<string, unknown>;

const CONTROL = /[\p{Cc}\p{Cf}]/u;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function assertDnsLabel(name: string, what: string): void {
  if (!DNS_LABEL.test(name)) throw new Error(`the ${what} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)`);
}

function assertClean(value: string | undefined, what: string): void {
  if (value !== undefined && (typeof value !== "string" || CONTROL.test(value))) throw new Error(`the ${what} holds a control character`);
}

const duration = (seconds: number, what: string): string => {
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`the ${what} is not a positive whole number of seconds`);
  return `${seconds}s`;
};

export function renderFluxV2Manifests(configuration: DesiredFluxConfiguration, secrets: UnsealedSettings | undefined): RenderedManifest[] {
  const p = configuration.properties;
  const name = configuration.name;
  assertDnsLabel(name, "fluxConfiguration name");
  assertDnsLabel(p.namespace, "namespace");
  if (p.sourceKind !== "GitRepository") throw new Error("only GitRepository sources are rendered");
  const git = p.gitRepository;
  const urlCheck = checkRepositoryUrl(git.url);
  if (!urlCheck.ok) throw new Error(`the repository URL is refused: ${urlCheck.reason}`);
  if (!/^(ssh|https):\/\//i.test(git.url)) throw new Error("Flux v2 takes ssh:// or https:// repository URLs");
  const ref = git.repositoryRef ?? {};
  for (const [k, v] of Object.entries(ref)) assertClean(v, `repositoryRef.${k}`);
  assertClean(git.httpsUser, "httpsUser");
  if (git.localAuthRef !== undefined) assertDnsLabel(git.localAuthRef, "localAuthRef");
  const ns = p.namespace;
  const namespaced = p.scope === "namespace";
  const labels = {
    "app.kubernetes.io/managed-by": MANAGED_BY,
    "kubernetesconfiguration.azure.com/flux-configuration": name,
  };
  const annotations = { "kubernetesconfiguration.azure.com/generation": String(configuration.generation) };
  const meta = (objectName: string, namespace?: string): Obj => ({ name: objectName, ...(namespace ? { namespace } : {}), labels, annotations });

  const docs: Obj[] = [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "app.kubernetes.io/managed-by": MANAGED_BY } } }];

  const ps = secrets?.protectedSettings ?? {};
  const data: Record<string, string> = {};
  if (ps.sshPrivateKey !== undefined) data.identity = ps.sshPrivateKey;
  if (secrets?.sshKnownHostsContents !== undefined) data.known_hosts = secrets.sshKnownHostsContents;
  if (git.httpsUser !== undefined) data.username = Buffer.from(git.httpsUser, "utf8").toString("base64");
  if (ps.httpsKey !== undefined) data.password = ps.httpsKey;
  if (git.httpsCACert !== undefined) data["ca.crt"] = git.httpsCACert;
  const authSecret = `${name}-auth`;
  const secretRef = git.localAuthRef ?? (Object.keys(data).length > 0 ? authSecret : undefined);
  if (git.localAuthRef === undefined && Object.keys(data).length > 0) docs.push({ apiVersion: "v1", kind: "Secret", metadata: meta(authSecret, ns), type: "Opaque", data });

  const applier = `${name}-applier`;
  if (namespaced) {
    if (applier.length > 253) throw new Error("the applier account name is longer than 253 characters");
    docs.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: meta(applier, ns) });
    docs.push({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(applier, ns), rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] });
    docs.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(applier, ns),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: applier },
      subjects: [{ kind: "ServiceAccount", name: applier, namespace: ns }],
    });
  }

  docs.push({
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "GitRepository",
    metadata: meta(name, ns),
    spec: {
      url: git.url,
      ref: Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== undefined)),
      interval: duration(git.syncIntervalInSeconds, "gitRepository.syncIntervalInSeconds"),
      timeout: duration(git.timeoutInSeconds, "gitRepository.timeoutInSeconds"),
      ...(secretRef !== undefined ? { secretRef: { name: secretRef } } : {}),
      suspend: p.suspend === true,
    },
  });

  for (const [k, kz] of Object.entries(p.kustomizations ?? {})) {
    assertDnsLabel(k, "kustomization name");
    const objectName = `${name}-${k}`;
    assertDnsLabel(objectName, "kustomization object name");
    assertClean(kz.path, "kustomization path");
    if (kz.path.split("/").includes("..")) throw new Error("a kustomization path leaves the repository ('..')");
    const dependsOn = (kz.dependsOn ?? []).map((dep) => {
      assertDnsLabel(dep, "dependsOn name");
      return { name: `${name}-${dep}` };
    });
    const postBuild = kz.postBuild;
    for (const v of Object.values(postBuild?.substitute ?? {})) assertClean(v.replace(/[\t\n]/g, ""), "postBuild substitute value");
    docs.push({
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: meta(objectName, ns),
      spec: {
        sourceRef: { kind: "GitRepository", name },
        path: kz.path === "" ? "./" : kz.path,
        interval: duration(kz.syncIntervalInSeconds, "kustomization syncIntervalInSeconds"),
        timeout: duration(kz.timeoutInSeconds, "kustomization timeoutInSeconds"),
        ...(kz.retryIntervalInSeconds !== undefined ? { retryInterval: duration(kz.retryIntervalInSeconds, "kustomization retryIntervalInSeconds") } : {}),
        prune: kz.prune === true,
        force: kz.force === true,
        wait: kz.wait !== false,
        ...(dependsOn.length > 0 ? { dependsOn } : {}),
        ...(namespaced ? { serviceAccountName: applier, targetNamespace: ns } : {}),
        ...(postBuild !== undefined
          ? {
              postBuild: {
                ...(postBuild.substitute !== undefined ? { substitute: postBuild.substitute } : {}),
                ...(postBuild.substituteFrom !== undefined ? { substituteFrom: postBuild.substituteFrom.map((f) => ({ kind: f.kind, name: f.name, ...(f.optional ? { optional: true } : {}) })) } : {}),
              },
            }
          : {}),
        suspend: p.suspend === true,
      },
    });
  }

  return docs.map((doc, i) => ({
    path: `${name}/${String(i).padStart(2, "0")}-${String(doc.kind).toLowerCase()}.yaml`,
    yaml: toYaml(doc),
  }));
}
