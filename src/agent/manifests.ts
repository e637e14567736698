/**
 * What a Flux v1 operator is deployed with, for one source control configuration. Pure: same input, same output.
 *
 * Per configuration (files `<configurationName>/NN-<kind>.yaml`, NN in apply order):
 *   Namespace <operatorNamespace>
 *   ServiceAccount <instance>
 *   scope `cluster`:   ClusterRole + ClusterRoleBinding `flux:<namespace>:<instance>` (everything, as the Flux chart does)
 *   scope `namespace`: Role + RoleBinding `<instance>` in <operatorNamespace> only
 *   Secret <instance>-git-deploy — always present, because Flux writes the deploy key it generates into it; `identity`
 *     carries the sealed sshPrivateKey (base64 exactly as received) when one was given
 *   Secret <instance>-git-auth (`username`/`password`) when httpsUser/httpsKey were given; the Deployment gets env
 *     GIT_AUTHUSER/GIT_AUTHKEY from it and, for an https:// repository, `--git-url=https://$(GIT_AUTHUSER):$(GIT_AUTHKEY)@host/...`
 *     (Kubernetes expands $(VAR) in args; the credentials never appear in the manifest)
 *   ConfigMap <instance>-ssh-config (`known_hosts`, decoded text) when sshKnownHostsContents was given, mounted at /root/.ssh
 *   Deployment <instance> (docker.io/fluxcd/flux:1.25.4): --git-url, --k8s-secret-name=<instance>-git-deploy,
 *     --k8s-allow-namespace=<ns> when namespace-scoped, then operatorParams split into args
 *   Deployment <instance>-helm-operator (docker.io/fluxcd/helm-operator:1.4.4) when enableHelmOperator; see helmOperatorArgs
 *
 * What the agent refuses to render, whatever the service sent (a hostile or stale store must not reach a cluster):
 *   a repository URL that fails the URL rule (src/contract/repository-url.ts: '-' options, control characters, credentials);
 *   an operatorNamespace / operatorInstanceName that is not a DNS-1123 label;
 *   an operatorParams argument holding a control character, a bare `--`, or a flag the agent sets itself (FLUX_OWNED_FLAGS);
 *   a mapped chart value holding a control character or starting with '-'.
 * Every '$' that comes from the configuration is written '$$', so Kubernetes does not expand `$(VAR)` in it
 * (a `--git-user=$(GIT_AUTHKEY)` would otherwise publish the HTTPS key as the commit author).
 */
import type { DesiredConfiguration, UnsealedSettings } from "../contract/agent-api.js";
import { splitArgs as splitLine } from "../contract/args.js";
import { setValuePairs } from "../contract/chart-values.js";
import { checkRepositoryUrl } from "../contract/repository-url.js";
import { toYaml } from "./yaml-emit.js";

export const FLUX_IMAGE = "docker.io/fluxcd/flux:1.25.4";
export const HELM_OPERATOR_IMAGE = "docker.io/fluxcd/helm-operator:1.4.4";
export const MANAGED_BY = "kubernetesconfiguration-agent";

export interface RenderedManifest {
  /** relative to the output directory: `<configurationName>/NN-<kind>.yaml` */
  path: string;
  yaml: string;
}

type Obj = Record<string, unknown>;

/**
 * The contract's splitter (src/contract/args.ts, the one the service checks operatorParams and chartValues with
 * at PUT time), throwing on an unclosed quote: the line is not quoted back, the message reaches ARM users.
 */
export function splitArgs(line: string | undefined): string[] {
  const split = splitLine(line);
  if (!split.ok) throw new Error(`${split.reason} in the parameters`);
  return split.args;
}

/** `--set a=1,b=2 --set c=3` / `--set=a=1` → [["a","1"],["b","2"],["c","3"]]; other tokens are ignored (src/contract/chart-values.ts). */
export function parseSetValues(chartValues: string | undefined): Array<[string, string]> {
  return setValuePairs(splitArgs(chartValues));
}

/**
 * Helm operator flags from the helm-operator chart values the configuration carries. Only the chart values that map
 * onto a helm-operator flag are honoured; the table below is the whole mapping. Everything else (image overrides,
 * resources, git.ssh.*, ...) is recorded, unapplied, in the Deployment annotation `kubernetesconfiguration.azure.com/unmapped-chart-values`.
 * `helm.versions` defaults to v3 (Helm 2/Tiller is not deployed).
 */
export const HELM_VALUE_FLAGS: Readonly<Record<string, string>> = {
  "helm.versions": "--enabled-helm-versions",
  workers: "--workers",
  logFormat: "--log-format",
  logReleaseDiffs: "--log-release-diffs",
  chartsSyncInterval: "--charts-sync-interval",
  statusUpdateInterval: "--status-update-interval",
  "git.timeout": "--git-timeout",
  "git.pollInterval": "--git-poll-interval",
  "git.defaultRef": "--git-default-ref",
  allowNamespace: "--allow-namespace",
};

/** the flags the agent writes into the flux container itself; operatorParams may not repeat them (the last one wins in pflag) */
export const FLUX_OWNED_FLAGS: readonly string[] = ["--git-url", "--k8s-secret-name", "--ssh-keygen-dir", "--k8s-allow-namespace"];

const CONTROL = /[\p{Cc}\p{Cf}]/u;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** as the service checks it; it ends up in a label value, where Helm's own convention writes '+' as '_' */
const CHART_VERSION = /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;

/** Kubernetes expands `$(VAR)` in container args; `$$` is a literal '$' */
export function escapeExpansion(value: string): string {
  return value.replace(/\$/g, "$$$$");
}

/** the operatorParams as flux args; throws (without quoting them) when one could override or smuggle something */
export function fluxUserArgs(operatorParams: string | undefined): string[] {
  const args = splitArgs(operatorParams);
  for (const arg of args) {
    if (CONTROL.test(arg)) throw new Error("an operatorParams argument holds a control character");
    if (arg === "--") throw new Error("operatorParams may not end the flags with '--'");
    const flag = arg.split("=", 1)[0] ?? "";
    if (FLUX_OWNED_FLAGS.includes(flag)) throw new Error(`operatorParams may not set ${flag}: the agent sets it`);
  }
  return args.map(escapeExpansion);
}

export function helmOperatorArgs(chartValues: string | undefined, namespaceScoped: string | undefined): { args: string[]; unmapped: Array<[string, string]> } {
  const flags = new Map<string, string>();
  const unmapped: Array<[string, string]> = [];
  flags.set("--enabled-helm-versions", "v3");
  if (namespaceScoped) flags.set("--allow-namespace", namespaceScoped);
  for (const [k, v] of parseSetValues(chartValues)) {
    const flag = HELM_VALUE_FLAGS[k];
    if (flag !== undefined && (CONTROL.test(v) || v.startsWith("-"))) throw new Error(`the chart value '${k}' holds a control character or starts with '-'`);
    if (flag === undefined) unmapped.push([k, v]);
    else if (flag === "--allow-namespace" && namespaceScoped) unmapped.push([k, v]); // a namespace-scoped operator stays in its namespace
    else flags.set(flag, v);
  }
  return { args: [...flags].map(([f, v]) => `${f}=${escapeExpansion(v)}`), unmapped };
}

function assertSafeName(name: string, what: string): void {
  if (!name || name === "." || name === ".." || /[/\\\0]/.test(name) || CONTROL.test(name)) throw new Error(`the ${what} cannot be used as a directory or object name`);
}

/** namespaces and object names the agent writes, also as flag values: a DNS-1123 label, so never '-…' */
function assertDnsLabel(name: string, what: string): void {
  if (!DNS_LABEL.test(name)) throw new Error(`the ${what} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)`);
}

/** `url` is already escaped ($$): the $(…) added here is the one expansion Kubernetes performs */
function gitUrlWithAuth(url: string): string {
  const m = /^(https?:\/\/)(?:[^@/]*@)?(.*)$/i.exec(url);
  return m ? `${m[1]}$(GIT_AUTHUSER):$(GIT_AUTHKEY)@${m[2]}` : url;
}

export function renderManifests(configuration: DesiredConfiguration, secrets: UnsealedSettings | undefined): RenderedManifest[] {
  const p = configuration.properties;
  assertSafeName(configuration.name, "configuration name");
  const ns = p.operatorNamespace;
  const instance = p.operatorInstanceName;
  assertDnsLabel(ns, "operatorNamespace");
  assertDnsLabel(instance, "operatorInstanceName");
  const urlCheck = checkRepositoryUrl(p.repositoryUrl);
  if (!urlCheck.ok) throw new Error(`the repository URL is refused: ${urlCheck.reason}`);
  const namespaced = p.operatorScope === "namespace";
  const labels = {
    app: instance,
    "app.kubernetes.io/name": "flux",
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/managed-by": MANAGED_BY,
    "kubernetesconfiguration.azure.com/configuration": configuration.name,
  };
  const annotations = { "kubernetesconfiguration.azure.com/generation": String(configuration.generation) };
  const meta = (name: string, namespace: string | undefined, extraLabels: Obj = {}, extraAnnotations: Obj = {}): Obj => ({
    name,
    ...(namespace ? { namespace } : {}),
    labels: { ...labels, ...extraLabels },
    annotations: { ...annotations, ...extraAnnotations },
  });

  const deploySecret = `${instance}-git-deploy`;
  const authSecret = `${instance}-git-auth`;
  const sshConfig = `${instance}-ssh-config`;
  const ps = secrets?.protectedSettings ?? {};
  const httpsAuth = ps.httpsUser !== undefined || ps.httpsKey !== undefined;
  const knownHosts = secrets?.sshKnownHostsContents !== undefined ? Buffer.from(secrets.sshKnownHostsContents, "base64").toString("utf8") : undefined;

  const docs: Obj[] = [];
  docs.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "app.kubernetes.io/managed-by": MANAGED_BY } } });
  docs.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: meta(instance, ns) });

  if (namespaced) {
    docs.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(instance, ns),
      rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
    });
    docs.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(instance, ns),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: instance },
      subjects: [{ kind: "ServiceAccount", name: instance, namespace: ns }],
    });
  } else {
    const roleName = `flux:${ns}:${instance}`;
    docs.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(roleName, undefined),
      rules: [
        { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
        { nonResourceURLs: ["*"], verbs: ["*"] },
      ],
    });
    docs.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: meta(roleName, undefined),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
      subjects: [{ kind: "ServiceAccount", name: instance, namespace: ns }],
    });
  }

  docs.push({
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(deploySecret, ns),
    type: "Opaque",
    ...(ps.sshPrivateKey !== undefined ? { data: { identity: ps.sshPrivateKey } } : {}),
  });
  if (httpsAuth) {
    docs.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(authSecret, ns),
      type: "Opaque",
      data: { ...(ps.httpsUser !== undefined ? { username: ps.httpsUser } : {}), ...(ps.httpsKey !== undefined ? { password: ps.httpsKey } : {}) },
    });
  }
  if (knownHosts !== undefined) {
    docs.push({ apiVersion: "v1", kind: "ConfigMap", metadata: meta(sshConfig, ns), data: { known_hosts: knownHosts } });
  }

  const escapedUrl = escapeExpansion(p.repositoryUrl);
  const gitUrl = httpsAuth && urlCheck.transport === "https" ? gitUrlWithAuth(escapedUrl) : escapedUrl;
  const fluxArgs = [`--git-url=${gitUrl}`, `--k8s-secret-name=${deploySecret}`, "--ssh-keygen-dir=/var/fluxd/keygen"];
  if (namespaced) fluxArgs.push(`--k8s-allow-namespace=${ns}`);
  fluxArgs.push(...fluxUserArgs(p.operatorParams));

  const sshVolumes: Obj[] = [{ name: "git-key", secret: { secretName: deploySecret, defaultMode: 0o400 } }];
  const sshMounts: Obj[] = [{ name: "git-key", mountPath: "/etc/fluxd/ssh", readOnly: true }];
  if (knownHosts !== undefined) {
    sshVolumes.push({ name: "ssh-config", configMap: { name: sshConfig, defaultMode: 0o644 } });
    sshMounts.push({ name: "ssh-config", mountPath: "/root/.ssh", readOnly: true });
  }
  const authEnv: Obj[] = [];
  if (ps.httpsUser !== undefined) authEnv.push({ name: "GIT_AUTHUSER", valueFrom: { secretKeyRef: { name: authSecret, key: "username" } } });
  if (ps.httpsKey !== undefined) authEnv.push({ name: "GIT_AUTHKEY", valueFrom: { secretKeyRef: { name: authSecret, key: "password" } } });

  docs.push(
    deployment(meta(instance, ns), { app: instance }, {
      serviceAccountName: instance,
      volumes: [...sshVolumes, { name: "git-keygen", emptyDir: { medium: "Memory" } }],
      containers: [
        {
          name: "flux",
          image: FLUX_IMAGE,
          imagePullPolicy: "IfNotPresent",
          args: fluxArgs,
          ...(authEnv.length ? { env: authEnv } : {}),
          ports: [{ name: "http", containerPort: 3030, protocol: "TCP" }],
          volumeMounts: [...sshMounts, { name: "git-keygen", mountPath: "/var/fluxd/keygen" }],
        },
      ],
    }),
  );

  if (p.enableHelmOperator) {
    const helmName = `${instance}-helm-operator`;
    const chartVersion = p.helmOperatorProperties?.chartVersion;
    if (chartVersion !== undefined && !CHART_VERSION.test(chartVersion)) throw new Error("the helm operator chart version is not a semantic version");
    const { args, unmapped } = helmOperatorArgs(p.helmOperatorProperties?.chartValues, namespaced ? ns : undefined);
    docs.push(
      deployment(
        meta(
          helmName,
          ns,
          { app: helmName, "app.kubernetes.io/name": "helm-operator", ...(chartVersion ? { "helm.sh/chart": `helm-operator-${chartVersion.replace(/\+/g, "_")}` } : {}) },
          unmapped.length ? { "kubernetesconfiguration.azure.com/unmapped-chart-values": JSON.stringify(Object.fromEntries(unmapped)) } : {},
        ),
        { app: helmName },
        {
          serviceAccountName: instance,
          volumes: sshVolumes,
          containers: [
            {
              name: "flux-helm-operator",
              image: HELM_OPERATOR_IMAGE,
              imagePullPolicy: "IfNotPresent",
              args,
              ...(authEnv.length ? { env: authEnv } : {}),
              ports: [{ name: "http", containerPort: 3030, protocol: "TCP" }],
              volumeMounts: sshMounts,
            },
          ],
        },
      ),
    );
  }

  return docs.map((doc, i) => ({
    path: `${configuration.name}/${String(i).padStart(2, "0")}-${String(doc.kind).toLowerCase()}.yaml`,
    yaml: toYaml(doc),
  }));
}

function deployment(metadata: Obj, selector: Record<string, string>, podSpec: Obj): Obj {
  const labels = { ...(metadata.labels as Obj), ...selector };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { ...metadata, labels },
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: { matchLabels: selector },
      template: { metadata: { labels, annotations: metadata.annotations }, spec: podSpec },
    },
  };
}
