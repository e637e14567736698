/**
 * The v1 -> v2 mapping (src/domain/flux-migration.ts) over a table of v1 configurations that covers every mapped
 * field and every warning: each generated body, as shown and as created (with its secrets), validates against
 * the OFFICIAL fluxconfiguration.json 2024-11-01 (and its closed form: no property it does not name, none
 * read-only); the values land where docs/design/flux-v2.md says.
 */
import t, { type Test } from "tap";
import { bodyWithSecrets, goDurationSeconds, knownHostsWarning, MIGRATION_WARNING_CODES, planMigration, resolveSecrets, shownBody, type MigrationPlan } from "../../src/domain/flux-migration.js";
import type { ConfigurationRecord, ConfigurationSecrets, ConfigurationSpec, ProtectedSettingKey } from "../../src/domain/types.js";
import { validateFluxConfiguration } from "../helpers/official-flux-schema.js";

const CLUSTER = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/c1";
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const KEY = b64("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n");
const KNOWN_HOSTS = b64("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n");

function record(name: string, spec: Partial<ConfigurationSpec>, secrets: { keys?: ProtectedSettingKey[]; knownHosts?: boolean } = {}): ConfigurationRecord {
  return {
    id: `${CLUSTER}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/${name}` as ConfigurationRecord["id"],
    name,
    clusterId: CLUSTER as ConfigurationRecord["clusterId"],
    spec: { repositoryUrl: "https://github.com/Azure/arc-k8s-demo", operatorNamespace: name, operatorInstanceName: name, operatorType: "Flux", operatorScope: "cluster", ...spec },
    generation: 1,
    provisioningState: "Succeeded",
    complianceStatus: { complianceState: "Installed" },
    secrets: { protectedSettingKeys: secrets.keys ?? [], hasKnownHosts: secrets.knownHosts ?? false },
    systemData: {} as ConfigurationRecord["systemData"],
  };
}

function plan(r: ConfigurationRecord, options?: { fluxConfigurationName?: string }): MigrationPlan {
  const p = planMigration(r, options);
  if ("problem" in p) throw new Error(p.problem);
  return p;
}

const codes = (p: MigrationPlan): string[] => p.warnings.map((w) => w.code);

interface Row {
  name: string;
  record: ConfigurationRecord;
  held?: ConfigurationSecrets;
  supplied?: Partial<Record<ProtectedSettingKey, string>>;
  check(t: Test, p: MigrationPlan, created: ReturnType<typeof bodyWithSecrets>): void;
}

const rows: Row[] = [
  {
    name: "defaults: Flux v1's own defaults are carried explicitly (v2's differ)",
    record: record("plain", {}),
    check(t, p) {
      const props = p.body.properties;
      t.same(props.gitRepository, { url: "https://github.com/Azure/arc-k8s-demo", repositoryRef: { branch: "master" }, syncIntervalInSeconds: 300, timeoutInSeconds: 20 });
      t.same(props.kustomizations, { kustomization: { path: "./", syncIntervalInSeconds: 300, timeoutInSeconds: 60, prune: false } });
      t.equal(props.scope, "cluster");
      t.equal(props.namespace, "plain");
      t.equal(props.sourceKind, "GitRepository");
      t.same(codes(p), ["ServerSideApply"], "only the behaviour change");
      t.equal(p.fluxConfigurationName, "plain");
    },
  },
  {
    name: "branch, paths, intervals, timeouts, garbage collection, namespace scope",
    record: record("full", { operatorScope: "namespace", operatorNamespace: "team-a", operatorParams: "--git-branch=release/1.2 --git-path=apps,infra/base --git-poll-interval 1m30s --git-timeout=45s --sync-interval=10m --sync-timeout=2m --sync-garbage-collection" }),
    check(t, p) {
      const props = p.body.properties;
      t.equal(props.scope, "namespace");
      t.equal(props.namespace, "team-a");
      t.same(props.gitRepository.repositoryRef, { branch: "release/1.2" });
      t.equal(props.gitRepository.syncIntervalInSeconds, 90);
      t.equal(props.gitRepository.timeoutInSeconds, 45);
      t.same(props.kustomizations, {
        "kustomization-1": { path: "./apps", syncIntervalInSeconds: 600, timeoutInSeconds: 120, prune: true },
        "kustomization-2": { path: "./infra/base", syncIntervalInSeconds: 600, timeoutInSeconds: 120, prune: true },
      });
    },
  },
  {
    name: "SSH key held by the service: carried over, known_hosts too; neither in the shown body",
    record: record("ssh", { repositoryUrl: "git@github.com:Azure/arc-k8s-demo.git" }, { keys: ["sshPrivateKey"], knownHosts: true }),
    held: { protectedSettings: { sshPrivateKey: KEY }, sshKnownHostsContents: KNOWN_HOSTS, submittedAt: 1_700_000_000_000 },
    check(t, p, created) {
      const resolved = resolveSecrets(p, this.held);
      t.same(resolved.carried, ["sshPrivateKey"]);
      t.same(resolved.missing, []);
      t.equal(resolved.submittedAt, 1_700_000_000_000, "the original submission time goes with them");
      t.same(created.properties.configurationProtectedSettings, { sshPrivateKey: KEY });
      t.equal(created.properties.gitRepository.sshKnownHosts, KNOWN_HOSTS);
      t.equal(created.properties.gitRepository.url, "ssh://git@github.com/Azure/arc-k8s-demo.git", "the scp-like URL in the form Flux v2 takes");
      t.ok(codes(p).includes("RepositoryUrlRewritten"));
      const shown = JSON.stringify(shownBody(p, resolved));
      t.notMatch(shown, KEY, "the key is never in the shown body");
      t.match(shown, KNOWN_HOSTS, "known_hosts are public host keys: shown, as v1 shows them");
    },
  },
  {
    name: "HTTPS credentials: httpsUser becomes plain-text gitRepository.httpsUser (warned), httpsKey stays protected",
    record: record("https", {}, { keys: ["httpsKey", "httpsUser"] }),
    held: { protectedSettings: { httpsUser: b64("flux-bot"), httpsKey: b64("token-123") }, submittedAt: 1_700_000_000_000 },
    check(t, p, created) {
      t.ok(codes(p).includes("HttpsUserInPlainText"));
      t.equal(created.properties.gitRepository.httpsUser, "flux-bot");
      t.same(created.properties.configurationProtectedSettings, { httpsKey: b64("token-123") });
      const shown = JSON.stringify(shownBody(p, resolveSecrets(p, this.held)));
      t.notMatch(shown, "flux-bot");
      t.notMatch(shown, b64("token-123"));
    },
  },
  {
    name: "secrets purged after 48 hours: missing until supplied; supplied ones are taken from the body",
    record: record("purged", { repositoryUrl: "ssh://git@github.com/Azure/arc-k8s-demo.git" }, { keys: ["sshPrivateKey"], knownHosts: true }),
    supplied: { sshPrivateKey: KEY },
    check(t, p, created) {
      const none = resolveSecrets(p, undefined);
      t.same(none.missing, ["sshPrivateKey"]);
      t.equal(none.submittedAt, undefined);
      t.equal(knownHostsWarning(p, none)?.code, "KnownHostsNotHeld");
      const given = resolveSecrets(p, undefined, this.supplied);
      t.same(given.supplied, ["sshPrivateKey"]);
      t.same(given.missing, []);
      t.same(created.properties.configurationProtectedSettings, { sshPrivateKey: KEY });
    },
  },
  {
    name: "flags with no v2 equivalent, read-only, .flux.yaml, image automation, dry-run GC: each warned",
    record: record("flags", { operatorParams: "--git-readonly --git-label=flux-sync --git-sync-tag=flux --git-notes-ref=flux --git-user=bot --git-email=bot@example.com --git-set-author --git-ci-skip --git-ci-skip-message=skip --git-verify-signatures --sync-state=secret --manifest-generation=true --registry-disable-scanning --registry-poll-interval=5m --registry-exclude-image=* --sync-garbage-collection-dry" }),
    check(t, p) {
      const c = codes(p);
      for (const code of ["GitReadOnly", "ManifestGeneration", "ImageAutomation", "GarbageCollectionDryRun", "NoV2Equivalent"]) t.ok(c.includes(code), code);
      const sources = p.warnings.map((w) => w.source);
      for (const flag of ["--git-label", "--git-sync-tag", "--git-notes-ref", "--git-user", "--git-email", "--git-set-author", "--git-ci-skip", "--git-ci-skip-message", "--git-verify-signatures", "--sync-state", "--git-readonly", "--manifest-generation"]) {
        t.ok(sources.includes(flag), `${flag} is named by a warning`);
      }
      t.match(p.warnings.find((w) => w.code === "ManifestGeneration")?.message, /\.flux\.yaml/);
    },
  },
  {
    name: "Helm operator: releases to convert, chart settings not carried",
    record: record("helm", { enableHelmOperator: true, helmOperatorProperties: { chartVersion: "1.4.0", chartValues: "--set helm.versions=v3" } }),
    check(t, p) {
      const w = p.warnings.find((x) => x.code === "HelmOperator");
      t.ok(w);
      t.match(w?.message, /helm\.toolkit\.fluxcd\.io/);
      t.match(w?.message, /helmOperatorProperties/);
    },
  },
  {
    name: "operator instance name, a chosen v2 name, a long name keeps object names within 62 characters",
    record: record("a".repeat(58), { operatorInstanceName: "fluxop", operatorParams: "--git-path=a,b" }),
    check(t, p) {
      t.ok(codes(p).includes("OperatorInstanceName"));
      for (const k of Object.keys(p.body.properties.kustomizations)) t.ok(p.fluxConfigurationName.length + 1 + k.length <= 62, k);
      const renamed = plan(this.record, { fluxConfigurationName: "v2-name" });
      t.equal(renamed.fluxConfigurationName, "v2-name");
    },
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const p = plan(row.record);
    const resolved = resolveSecrets(p, row.held, row.supplied);
    const created = bodyWithSecrets(p, resolved);
    for (const [what, body] of [["shown", shownBody(p, resolved)], ["created", created], ["plan", p.body]] as const) {
      const official = validateFluxConfiguration(body);
      t.ok(official.valid, `${what} body validates against the official fluxconfiguration.json`, { errors: official.errors });
      const strict = validateFluxConfiguration(body, "strict");
      t.ok(strict.valid, `${what} body: no property the official document does not name, none read-only`, { errors: strict.errors });
    }
    for (const w of p.warnings) t.ok((MIGRATION_WARNING_CODES as readonly string[]).includes(w.code));
    row.check.call(row, t, p, created);
  });
}

t.test("the schema check would catch a wrong body", async (t) => {
  const p = plan(record("x", {}));
  t.notOk(validateFluxConfiguration({ properties: { ...p.body.properties, scope: "tenant" } }).valid, "an enum the document does not list");
  t.notOk(validateFluxConfiguration({ properties: { ...p.body.properties, suspend: "no" } }).valid, "a wrong type");
  t.notOk(validateFluxConfiguration({ properties: { ...p.body.properties, gitRepository: { ...p.body.properties.gitRepository, syncInterval: 5 } } }, "strict").valid, "a misspelt property (strict)");
  t.notOk(validateFluxConfiguration({ properties: { ...p.body.properties, complianceState: "Compliant" } }, "strict").valid, "a read-only property (strict)");
});

t.test("Go durations in whole seconds", async (t) => {
  t.equal(goDurationSeconds("5m"), 300);
  t.equal(goDurationSeconds("1h30m"), 5400);
  t.equal(goDurationSeconds("0.5m"), 30);
  t.equal(goDurationSeconds("500ms"), 1);
  t.equal(goDurationSeconds("90s"), 90);
});

t.test("plain http is not migrated (Flux v2 refuses it); ssh:// and https:// stay as they are", async (t) => {
  t.ok("problem" in planMigration(record("h", { repositoryUrl: "http://example.com/repo" })));
  t.equal(plan(record("s", { repositoryUrl: "ssh://git@example.com/repo" })).body.properties.gitRepository.url, "ssh://git@example.com/repo");
});

t.test("operatorParams the parser refuses are reported, not guessed", async (t) => {
  const p = planMigration(record("bad", { operatorParams: "--git-url=x" }));
  t.ok("problem" in p);
});
