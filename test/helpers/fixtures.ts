/** Real keys and valid bodies for tests: generated with node:crypto, never hard-coded secrets. */
import crypto from "node:crypto";

export const SUB = "00000000-0000-0000-0000-000000000001";
export const RG = "rg1";

export function agentPublicKey(kind: "ec" | "rsa" = "ec"): { publicKeyB64: string; privateKey: crypto.KeyObject } {
  const pair =
    kind === "ec"
      ? crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
      : crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const der = pair.publicKey.export({ format: "der", type: "spki" });
  return { publicKeyB64: der.toString("base64"), privateKey: pair.privateKey };
}

export function clusterBody(publicKeyB64 = agentPublicKey().publicKeyB64, extra: Record<string, unknown> = {}) {
  return {
    location: "eastus",
    tags: { env: "test" },
    identity: { type: "SystemAssigned" },
    properties: { agentPublicKeyCertificate: publicKeyB64, distribution: "k3s", infrastructure: "generic" },
    ...extra,
  };
}

/** SSH wire encoding: a big-endian uint32 */
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** SSH wire encoding: a length-prefixed string */
export const sshString = (v: Buffer | string): Buffer => {
  const b = typeof v === "string" ? Buffer.from(v, "latin1") : v;
  return Buffer.concat([u32(b.length), b]);
};

/** base64 of an unencrypted PKCS#8 PEM ed25519 private key */
export function sshPrivateKeyB64(): string {
  const { privateKey } = crypto.generateKeyPairSync("ed25519");
  return Buffer.from(privateKey.export({ format: "pem", type: "pkcs8" }).toString()).toString("base64");
}

/** base64 of a known_hosts file with one real ed25519 host key */
export function knownHostsB64(host = "github.com"): string {
  const { publicKey } = crypto.generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]);
  return Buffer.from(`${host} ssh-ed25519 ${blob.toString("base64")}\n`).toString("base64");
}

export const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

export function configurationBody(overrides: Record<string, unknown> = {}) {
  return {
    properties: {
      repositoryUrl: "git@github.com:example/cluster-config.git",
      operatorNamespace: "flux",
      operatorType: "Flux",
      operatorScope: "namespace",
      operatorParams: "--git-readonly --git-branch=main",
      enableHelmOperator: true,
      helmOperatorProperties: { chartVersion: "1.4.0", chartValues: "--set helm.versions=v3" },
      ...overrides,
    },
  };
}

export const clusterPath = (name: string, sub = SUB, rg = RG) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Kubernetes/connectedClusters/${name}`;

export const configurationsPath = (cluster: string, sub = SUB, rg = RG) =>
  `${clusterPath(cluster, sub, rg)}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations`;

export const configurationPath = (cluster: string, name: string, sub = SUB, rg = RG) => `${configurationsPath(cluster, sub, rg)}/${name}`;

/** Flux v2 fluxConfigurations (issue #16) */
export const fluxConfigurationsPath = (cluster: string, sub = SUB, rg = RG) =>
  `${clusterPath(cluster, sub, rg)}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations`;

export const fluxConfigurationPath = (cluster: string, name: string, sub = SUB, rg = RG) => `${fluxConfigurationsPath(cluster, sub, rg)}/${name}`;

/** a GitRepository fluxConfiguration over SSH with a private key and known_hosts, two kustomizations */
export function fluxConfigurationBody(overrides: Record<string, unknown> = {}) {
  return {
    properties: {
      scope: "cluster",
      namespace: "flux-system",
      sourceKind: "GitRepository",
      suspend: false,
      gitRepository: {
        url: "ssh://git@github.com/example/cluster-config.git",
        repositoryRef: { branch: "main" },
        syncIntervalInSeconds: 300,
        timeoutInSeconds: 120,
        sshKnownHosts: knownHostsB64(),
      },
      kustomizations: {
        infra: { path: "./infrastructure", prune: true, syncIntervalInSeconds: 120 },
        apps: { path: "./apps/staging", dependsOn: ["infra"], prune: true, force: false, retryIntervalInSeconds: 60, postBuild: { substitute: { cluster_env: "staging" } } },
      },
      configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() },
      ...overrides,
    },
  };
}
