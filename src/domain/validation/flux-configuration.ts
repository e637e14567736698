/**
 * The rules of a fluxConfigurations PUT (and of a PATCH, once merged into the PUT it amounts to) beyond
 * its schema (types are checked by the openapi/ validator first). Returns the spec with Flux v2's
 * defaults and the sensitive inputs apart. Every problem is collected; nothing is returned unless all pass.
 * The v1 rules are reused: the repository URL rule, the SSH private key check, known_hosts, names.
 */
import { quote } from "../../arm/quote.js";
import {
  FLUX_SOURCE_KINDS,
  SUPPORTED_FLUX_SOURCE_KINDS,
  type ConfigurationSecrets,
  type FluxConfigurationRecord,
  type FluxConfigurationSpec,
  type FluxGitRepositorySpec,
  type FluxKustomizationSpec,
  type FluxPostBuild,
  type FluxRepositoryRef,
  type ProtectedSettingKey,
} from "../types.js";
import { decodeBase64Strict } from "./base64.js";
import { knownHostsProblem } from "./known-hosts.js";
import { kubernetesNameProblem } from "./names.js";
import { Problems } from "./problems.js";
import { checkRepositoryUrl, type RepositoryTransport } from "../../contract/repository-url.js";
import { parsePrivateKey } from "./ssh-keys.js";

/** Flux v2 names its objects `<configuration>-<kustomization>`: together at most this long (Azure's rule) */
export const FLUX_OBJECT_NAME_MAX = 62;
/** a DNS label, as the GitRepository it names (a migrated v1 configuration keeps its name: v1 names are labels too) */
export const FLUX_NAME_MAX = 63;
export const FLUX_NAMESPACE_MAX = 63;
export const FLUX_KUSTOMIZATIONS_MAX = 20;
/** the protected settings a GitRepository source takes (httpsUser is plain text in Flux v2: gitRepository.httpsUser) */
export const FLUX_GIT_PROTECTED_SETTING_KEYS = ["sshPrivateKey", "httpsKey"] as const;
/** Flux v2 defaults (the official document's) */
export const FLUX_DEFAULT_INTERVAL_SECONDS = 600;
/** the longest interval or timeout accepted: a day (Flux takes Go durations; longer is a mistake, not a need) */
export const FLUX_MAX_SECONDS = 86_400;

export interface FluxInput {
  name: string;
  /** the body's `properties` (a PATCH merged into the current ones first: mergeFluxPatch) */
  properties: Record<string, unknown> | undefined;
  /** the live record being replaced: create-only properties may not change */
  existing?: FluxConfigurationRecord;
}

export interface ValidatedFlux {
  spec: FluxConfigurationSpec;
  secrets?: Pick<ConfigurationSecrets, "protectedSettings" | "sshKnownHostsContents">;
}

const P = "properties";
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const CONTROL = /[\p{Cc}\p{Cf}]/u;
/** git ref names (git-check-ref-format), kept to what a branch or tag may be without surprises */
const REF_NAME = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock$)(?!.*\/$)(?!.*\.$)[^\s~^:?*[\\\p{Cc}]{1,255}$/u;
const COMMIT = /^[0-9a-f]{7,40}$|^[0-9a-f]{64}$/;
const SEMVER_RANGE = /^[0-9A-Za-z.*^~<>=|, +-]{1,128}$/;
const ISO_DURATION = /^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;
const VAR_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function seconds(problems: Problems, target: string, raw: unknown, fallback: number | undefined): number | undefined {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > FLUX_MAX_SECONDS) {
    problems.add(target, `The property '${target}' must be a whole number of seconds between 1 and ${FLUX_MAX_SECONDS}.`);
    return fallback;
  }
  return raw;
}

function checkSourceKind(problems: Problems, props: Record<string, unknown>): void {
  const kind = props.sourceKind ?? "GitRepository";
  if (!(SUPPORTED_FLUX_SOURCE_KINDS as readonly unknown[]).includes(kind)) {
    const known = (FLUX_SOURCE_KINDS as readonly unknown[]).includes(kind);
    problems.add(
      `${P}.sourceKind`,
      known
        ? `The source kind ${quote(kind)} is not supported yet by this service; only 'GitRepository' is (Bucket, AzureBlob and OCIRepository sources are not delivered to clusters yet).`
        : `The source kind ${quote(kind)} is not one of ${FLUX_SOURCE_KINDS.join(", ")}.`,
      "SourceKindNotSupported",
    );
  }
  for (const other of ["bucket", "azureBlob", "ociRepository"] as const) {
    if (props[other] !== undefined && props[other] !== null) {
      problems.add(`${P}.${other}`, `The property '${other}' is not supported yet by this service; only 'gitRepository' sources are delivered to clusters.`, "SourceKindNotSupported");
    }
  }
}

function checkRepositoryRef(problems: Problems, at: string, raw: unknown): FluxRepositoryRef | undefined {
  const ref = obj(raw);
  const target = `${at}.repositoryRef`;
  if (!ref) {
    problems.add(target, "The property 'gitRepository.repositoryRef' is required: set one of branch, tag, semver or commit.");
    return undefined;
  }
  const out: FluxRepositoryRef = {};
  const branch = str(ref.branch);
  const tag = str(ref.tag);
  const semver = str(ref.semver);
  const commit = str(ref.commit);
  if (branch !== undefined) {
    if (!REF_NAME.test(branch)) problems.add(`${target}.branch`, `The branch ${quote(branch)} is not a valid git branch name.`);
    out.branch = branch;
  }
  if (tag !== undefined) {
    if (!REF_NAME.test(tag)) problems.add(`${target}.tag`, `The tag ${quote(tag)} is not a valid git tag name.`);
    out.tag = tag;
  }
  if (semver !== undefined) {
    if (!SEMVER_RANGE.test(semver)) problems.add(`${target}.semver`, `The semver range ${quote(semver)} is not a valid range (e.g. '>=1.0.0 <2.0.0', '1.2.x', '^1.4').`);
    out.semver = semver;
  }
  if (commit !== undefined) {
    if (!COMMIT.test(commit)) problems.add(`${target}.commit`, `The commit ${quote(commit)} is not a commit SHA (7 to 40 lower-case hex digits, or 64).`);
    if (branch === undefined) problems.add(`${target}.commit`, "A commit must be combined with the branch it is on ('repositoryRef.branch').");
    out.commit = commit;
  }
  if (Object.keys(out).length === 0) problems.add(target, "The property 'gitRepository.repositoryRef' must set one of branch, tag, semver or commit.");
  return out;
}

function checkGitRepository(problems: Problems, raw: unknown): { spec?: FluxGitRepositorySpec; transport?: RepositoryTransport; knownHosts?: string } {
  const at = `${P}.gitRepository`;
  const git = obj(raw);
  if (!git) {
    problems.add(at, "The property 'gitRepository' is required for the source kind 'GitRepository'.");
    return {};
  }
  const url = str(git.url);
  let transport: RepositoryTransport | undefined;
  if (!url) problems.add(`${at}.url`, "The property 'gitRepository.url' is required.");
  else {
    const check = checkRepositoryUrl(url);
    // the URL is not echoed: a refused URL may be refused precisely because it carries a password
    if (!check.ok) problems.add(`${at}.url`, `The repository URL is not accepted: ${check.reason}. Use https://host/path or ssh://user@host/path, with no password or token in the URL (docs/repository-url.md).`);
    else if (check.transport === "ssh" && !/^ssh:\/\//i.test(url)) {
      problems.add(`${at}.url`, "Flux v2 takes SSH repository URLs as ssh://user@host/path; write the scp-like form user@host:path as ssh://user@host/path.");
    } else if (/^http:\/\//i.test(url)) {
      problems.add(`${at}.url`, "Flux v2 repository URLs must use https:// or ssh:// (plain http sends credentials in clear).");
    } else transport = check.transport;
  }
  const repositoryRef = checkRepositoryRef(problems, at, git.repositoryRef);
  const timeoutInSeconds = seconds(problems, `${at}.timeoutInSeconds`, git.timeoutInSeconds, FLUX_DEFAULT_INTERVAL_SECONDS) ?? FLUX_DEFAULT_INTERVAL_SECONDS;
  const syncIntervalInSeconds = seconds(problems, `${at}.syncIntervalInSeconds`, git.syncIntervalInSeconds, FLUX_DEFAULT_INTERVAL_SECONDS) ?? FLUX_DEFAULT_INTERVAL_SECONDS;

  let knownHosts: string | undefined;
  const sshKnownHosts = str(git.sshKnownHosts);
  if (sshKnownHosts !== undefined && sshKnownHosts !== "") {
    const decoded = decodeBase64Strict(sshKnownHosts);
    const problem = decoded ? knownHostsProblem(decoded.toString("utf8")) : "it is not base64";
    if (problem) problems.add(`${at}.sshKnownHosts`, `The property 'gitRepository.sshKnownHosts' is not valid base64-encoded known_hosts contents: ${problem}.`);
    if (transport === "https") problems.add(`${at}.sshKnownHosts`, "The property 'gitRepository.sshKnownHosts' can only be used with an ssh:// repository URL.");
    knownHosts = sshKnownHosts;
  }
  const httpsUser = str(git.httpsUser);
  if (httpsUser !== undefined) {
    if (httpsUser.length === 0 || httpsUser.length > 256 || CONTROL.test(httpsUser)) problems.add(`${at}.httpsUser`, "The property 'gitRepository.httpsUser' must be 1 to 256 characters with no control character.");
    if (transport === "ssh") problems.add(`${at}.httpsUser`, "The property 'gitRepository.httpsUser' can only be used with an https:// repository URL.");
  }
  const httpsCACert = str(git.httpsCACert);
  if (httpsCACert !== undefined) {
    const decoded = decodeBase64Strict(httpsCACert);
    if (!decoded || !decoded.toString("utf8").includes("-----BEGIN CERTIFICATE-----")) {
      problems.add(`${at}.httpsCACert`, "The property 'gitRepository.httpsCACert' must be base64-encoded PEM certificate(s).");
    }
    if (transport === "ssh") problems.add(`${at}.httpsCACert`, "The property 'gitRepository.httpsCACert' can only be used with an https:// repository URL.");
  }
  const localAuthRef = str(git.localAuthRef);
  if (localAuthRef !== undefined) {
    const problem = kubernetesNameProblem(localAuthRef, 253);
    if (problem) problems.add(`${at}.localAuthRef`, `The secret name ${quote(localAuthRef)} is invalid: it ${problem}.`);
  }
  const provider = git.provider ?? undefined;
  if (provider !== undefined && provider !== null && provider !== "Generic") {
    problems.add(`${at}.provider`, `The authentication provider ${quote(provider)} is not supported yet by this service; use 'Generic' (secret-based authentication).`);
  }
  const spec: FluxGitRepositorySpec = {
    url: url ?? "",
    timeoutInSeconds,
    syncIntervalInSeconds,
    ...(repositoryRef ? { repositoryRef } : {}),
    ...(httpsUser !== undefined ? { httpsUser } : {}),
    ...(httpsCACert !== undefined ? { httpsCACert } : {}),
    ...(localAuthRef !== undefined ? { localAuthRef } : {}),
    ...(provider === "Generic" ? { provider: "Generic" as const } : {}),
  };
  return { spec, transport, knownHosts };
}

function checkProtectedSettings(problems: Problems, raw: unknown, transport: RepositoryTransport | undefined, git: FluxGitRepositorySpec | undefined): Partial<Record<ProtectedSettingKey, string>> {
  const settings: Partial<Record<ProtectedSettingKey, string>> = {};
  const given = obj(raw);
  if (!given) return settings;
  const target = `${P}.configurationProtectedSettings`;
  for (const [key, value] of Object.entries(given)) {
    if (key === "httpsUser") {
      problems.add(`${target}.${key}`, "In a fluxConfiguration the HTTPS user is not a protected setting: set 'gitRepository.httpsUser' (plain text, as Flux v2 keeps it).");
      continue;
    }
    if (!(FLUX_GIT_PROTECTED_SETTING_KEYS as readonly string[]).includes(key)) {
      problems.add(`${target}.${key}`, `The protected setting ${quote(key)} is not supported for a GitRepository source; use ${FLUX_GIT_PROTECTED_SETTING_KEYS.join(", ")}.`);
      continue;
    }
    const decoded = typeof value === "string" ? decodeBase64Strict(value) : undefined;
    if (!decoded || decoded.length === 0) {
      // the value itself is never echoed: it is a secret
      problems.add(`${target}.${key}`, `The protected setting ${quote(key)} must be a non-empty base64 string.`);
      continue;
    }
    if (key === "sshPrivateKey") {
      const parsed = parsePrivateKey(decoded);
      if (!parsed.ok) problems.add(`${target}.${key}`, `The protected setting 'sshPrivateKey' is not a usable private key: ${parsed.reason}.`);
      if (transport === "https") problems.add(`${target}.${key}`, "The protected setting 'sshPrivateKey' can only be used with an ssh:// repository URL.");
    }
    if (key === "httpsKey" && transport === "ssh") problems.add(`${target}.${key}`, "The protected setting 'httpsKey' can only be used with an https:// repository URL.");
    settings[key as ProtectedSettingKey] = value as string;
  }
  if (settings.httpsKey !== undefined && git?.httpsUser === undefined) {
    problems.add(`${P}.gitRepository.httpsUser`, "The protected setting 'httpsKey' needs 'gitRepository.httpsUser' (the user it authenticates).");
  }
  if (git?.localAuthRef !== undefined && Object.keys(settings).length > 0) {
    problems.add(`${P}.gitRepository.localAuthRef`, "'gitRepository.localAuthRef' names a secret already on the cluster: it cannot be combined with configurationProtectedSettings.");
  }
  return settings;
}

function checkPostBuild(problems: Problems, at: string, raw: unknown): FluxPostBuild | undefined {
  const post = obj(raw);
  if (!post) return undefined;
  const out: FluxPostBuild = {};
  const substitute = obj(post.substitute);
  if (substitute) {
    out.substitute = {};
    for (const [name, value] of Object.entries(substitute)) {
      if (!VAR_NAME.test(name)) problems.add(`${at}.postBuild.substitute`, `The variable name ${quote(name)} is invalid: letters, digits and '_', not starting with a digit.`);
      else if (typeof value !== "string" || CONTROL.test(value.replace(/[\t\n]/g, ""))) problems.add(`${at}.postBuild.substitute.${name}`, `The value of ${quote(name)} must be a string with no control character.`);
      else out.substitute[name] = value;
    }
  }
  if (Array.isArray(post.substituteFrom)) {
    out.substituteFrom = [];
    post.substituteFrom.forEach((item, i) => {
      const from = obj(item) ?? {};
      const kind = from.kind;
      const name = str(from.name) ?? "";
      if (kind !== "ConfigMap" && kind !== "Secret") problems.add(`${at}.postBuild.substituteFrom[${i}].kind`, "The property 'kind' must be 'ConfigMap' or 'Secret'.");
      if (!DNS_SUBDOMAIN.test(name) || name.length > 253) problems.add(`${at}.postBuild.substituteFrom[${i}].name`, `The name ${quote(name)} is not a valid Kubernetes object name.`);
      out.substituteFrom?.push({ kind: kind === "Secret" ? "Secret" : "ConfigMap", name, optional: from.optional === true });
    });
  }
  return out;
}

function checkKustomizations(problems: Problems, configurationName: string, raw: unknown): Record<string, FluxKustomizationSpec> {
  const given = obj(raw) ?? {};
  const out: Record<string, FluxKustomizationSpec> = {};
  const names = Object.keys(given);
  if (names.length > FLUX_KUSTOMIZATIONS_MAX) problems.add(`${P}.kustomizations`, `A fluxConfiguration has at most ${FLUX_KUSTOMIZATIONS_MAX} kustomizations.`);
  for (const name of names.slice(0, FLUX_KUSTOMIZATIONS_MAX)) {
    const at = `${P}.kustomizations.${name}`;
    const problem = kubernetesNameProblem(name, FLUX_OBJECT_NAME_MAX);
    if (problem) problems.add(at, `The kustomization name ${quote(name)} is invalid: it ${problem}.`);
    else if (configurationName.length + 1 + name.length > FLUX_OBJECT_NAME_MAX) {
      problems.add(at, `The Flux objects are named '<configuration>-<kustomization>', at most ${FLUX_OBJECT_NAME_MAX} characters: ${quote(`${configurationName}-${name}`)} is longer.`);
    }
    const k = obj(given[name]);
    if (k === undefined) continue; // null: a PATCH removing it (mergeFluxPatch); never reaches a PUT's validation
    const path = str(k.path) ?? "";
    if (CONTROL.test(path) || path.length > 1024 || path.split("/").includes("..")) problems.add(`${at}.path`, `The path ${quote(path)} must stay inside the repository: no '..' segment, no control character.`);
    const dependsOn = Array.isArray(k.dependsOn) ? k.dependsOn.map(String) : undefined;
    for (const dep of dependsOn ?? []) {
      if (dep === name) problems.add(`${at}.dependsOn`, `The kustomization ${quote(name)} cannot depend on itself.`);
      else if (!names.includes(dep)) problems.add(`${at}.dependsOn`, `The kustomization ${quote(name)} depends on ${quote(dep)}, which is not a kustomization of this configuration.`);
    }
    const retry = seconds(problems, `${at}.retryIntervalInSeconds`, k.retryIntervalInSeconds, undefined);
    const postBuild = checkPostBuild(problems, at, k.postBuild);
    out[name] = {
      path,
      ...(dependsOn !== undefined && dependsOn.length > 0 ? { dependsOn } : {}),
      timeoutInSeconds: seconds(problems, `${at}.timeoutInSeconds`, k.timeoutInSeconds, FLUX_DEFAULT_INTERVAL_SECONDS) ?? FLUX_DEFAULT_INTERVAL_SECONDS,
      syncIntervalInSeconds: seconds(problems, `${at}.syncIntervalInSeconds`, k.syncIntervalInSeconds, FLUX_DEFAULT_INTERVAL_SECONDS) ?? FLUX_DEFAULT_INTERVAL_SECONDS,
      ...(retry !== undefined ? { retryIntervalInSeconds: retry } : {}),
      prune: k.prune === true,
      force: k.force === true,
      wait: k.wait !== false,
      ...(postBuild ? { postBuild } : {}),
    };
  }
  const cycle = dependencyCycle(out);
  if (cycle) problems.add(`${P}.kustomizations`, `The kustomizations depend on each other in a cycle: ${cycle.map(quote).join(" -> ")}.`);
  return out;
}

/** the first dependency cycle among the kustomizations, if any */
export function dependencyCycle(kustomizations: Record<string, Pick<FluxKustomizationSpec, "dependsOn">>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const walk = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "visiting");
    for (const dep of kustomizations[name]?.dependsOn ?? []) {
      if (!(dep in kustomizations)) continue;
      const found = walk(dep, [...path, name]);
      if (found) return found;
    }
    state.set(name, "done");
    return undefined;
  };
  for (const name of Object.keys(kustomizations)) {
    const found = walk(name, []);
    if (found) return found;
  }
  return undefined;
}

export function validateFluxConfiguration(input: FluxInput): ValidatedFlux {
  const problems = new Problems();
  const name = input.name.toLowerCase();
  const nameProblem = kubernetesNameProblem(name, FLUX_NAME_MAX);
  if (nameProblem) problems.add("name", `The fluxConfiguration name ${quote(input.name)} is invalid: it ${nameProblem}.`, "InvalidResourceName");
  const props = input.properties ?? {};
  checkSourceKind(problems, props);

  const scope = props.scope ?? input.existing?.spec.scope ?? "cluster";
  if (scope !== "cluster" && scope !== "namespace") problems.add(`${P}.scope`, "The property 'scope' must be 'cluster' or 'namespace'.");
  const namespace = str(props.namespace) ?? input.existing?.spec.namespace ?? "default";
  const nsProblem = kubernetesNameProblem(namespace, FLUX_NAMESPACE_MAX);
  if (nsProblem) problems.add(`${P}.namespace`, `The namespace ${quote(namespace)} is invalid: it ${nsProblem}.`);
  // create-only (x-ms-mutability create, read): fixed once the configuration exists
  if (input.existing && scope !== input.existing.spec.scope) problems.add(`${P}.scope`, "The property 'scope' is set at creation and cannot be changed; delete and re-create the fluxConfiguration.", "PropertyChangeNotAllowed");
  if (input.existing && namespace !== input.existing.spec.namespace) problems.add(`${P}.namespace`, "The property 'namespace' is set at creation and cannot be changed; delete and re-create the fluxConfiguration.", "PropertyChangeNotAllowed");

  const git = checkGitRepository(problems, props.gitRepository);
  const protectedSettings = checkProtectedSettings(problems, props.configurationProtectedSettings, git.transport, git.spec);
  const kustomizations = checkKustomizations(problems, name, props.kustomizations);
  const duration = str(props.reconciliationWaitDuration);
  if (duration !== undefined && !ISO_DURATION.test(duration)) problems.add(`${P}.reconciliationWaitDuration`, `The duration ${quote(duration)} is not an ISO 8601 duration such as PT10M or PT1H.`);
  problems.throwIfAny();

  const spec: FluxConfigurationSpec = {
    scope: scope as FluxConfigurationSpec["scope"],
    namespace,
    sourceKind: "GitRepository",
    suspend: props.suspend === true,
    gitRepository: git.spec as FluxGitRepositorySpec,
    kustomizations,
    ...(typeof props.waitForReconciliation === "boolean" ? { waitForReconciliation: props.waitForReconciliation } : {}),
    ...(duration !== undefined ? { reconciliationWaitDuration: duration } : {}),
  };
  const hasSecrets = Object.keys(protectedSettings).length > 0 || git.knownHosts !== undefined;
  return { spec, ...(hasSecrets ? { secrets: { protectedSettings, ...(git.knownHosts !== undefined ? { sshKnownHostsContents: git.knownHosts } : {}) } } : {}) };
}

/**
 * A PATCH as the PUT it amounts to (ARM merge-patch): the current properties with the patch's over them;
 * objects merge, a null removes (a kustomization set to null is removed), arrays and scalars replace.
 * `current` holds what the current resource shows, its sshKnownHosts included while it is kept.
 */
export function mergeFluxPatch(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merge = (base: unknown, over: unknown): unknown => {
    if (over === null) return undefined;
    const b = obj(base);
    const o = obj(over);
    if (!o) return over;
    const out: Record<string, unknown> = { ...(b ?? {}) };
    for (const [key, value] of Object.entries(o)) {
      const merged = merge(out[key], value);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    }
    return out;
  };
  return (merge(current, patch) as Record<string, unknown> | undefined) ?? {};
}
