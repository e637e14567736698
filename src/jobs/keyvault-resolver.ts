/**
 * Resolves Key Vault references (docs/design/keyvault-references.md): one replica at a time (a lease),
 * never in the agent's poll path. A pass walks the configurations with references, reads each referenced
 * secret through a cache shared by every configuration (one vault read per vault/secret/version per
 * refresh interval, whatever the number of clusters), and writes what was read into each configuration's
 * secrets document, sealed at rest like submitted secrets and expiring with the 48-hour window; the
 * desired-state build then seals it to the cluster's key. A configuration is written only when
 * something changed for it:
 * - the values it holds are of other versions than the ones just read (a new PUT, a rotation of an
 *   unversioned reference, a first read for a cluster that joined);
 * - its copy is past half of its retention (read again before it expires: a cluster never fails for
 *   expiry while the reference is valid), or gone (expired, purged);
 * - the read failed: the configuration shows Failed naming vault, secret and cause (it keeps the values
 *   it holds until they expire: nothing half-applied), and the secret is retried with backoff.
 * Every vault read is audited (vault, secret, version, clusters using it; never a value). Before any read
 * for a configuration, the trust rule is checked again for the principal its references were accepted
 * for (src/domain/keyvault-trust.ts): a principal no longer allowed gets no new read, and the
 * configuration shows Failed naming the principal and the vault.
 */
import { announce, type ChangeBus } from "../domain/changes.js";
import { hasReferences, secretsOf } from "../domain/configurations.js";
import type { ConfigurationRecord, ConfigurationSecrets, KeyVaultSecretReference, SecretReferenceSetting } from "../domain/types.js";
import { SECRET_REFERENCE_SETTINGS } from "../domain/types.js";
import { parseVaultId } from "../domain/validation/keyvault-references.js";
import { decodeBase64Strict } from "../domain/validation/base64.js";
import { knownHostsProblem } from "../domain/validation/known-hosts.js";
import { parsePrivateKey } from "../domain/validation/ssh-keys.js";
import { byPartition, type Persistence, type StoredDocument, type Versioned } from "../persistence/index.js";
import type { Clock } from "../ports/clock.js";
import type { VaultAccessChecker } from "../ports/vault-access.js";
import { NO_VAULTS, resolutionTrustFailure } from "../domain/keyvault-trust.js";
import { SecretReadError, type SecretRead, type SecretReader } from "../ports/secret-reader.js";
import { Slicer } from "./assignments/slicing.js";
import { Lease } from "./lease.js";
import { PeriodicJob } from "./periodic-job.js";

export interface KeyVaultResolverOptions {
  /** how long a read of a secret is reused: an unversioned reference picks up a new version within this */
  refreshMs: number;
  /** a pass this often (and at once when woken by a PUT in this process) */
  intervalMs: number;
  /** how long a copy is kept (PROTECTED_SETTINGS_RETENTION_SECONDS): it is read again after half of it */
  retentionMs: number;
  holder: string;
  leaseMs: number;
  /** configurations written per commit */
  groupSize?: number;
}

/** one audit line per vault read: names and versions, never a value */
export interface KeyVaultReadAudit {
  read(fields: { vault: string; secret: string; version?: string; outcome: string; clusters: number }): void;
}

export interface ResolvePassReport {
  ran: boolean;
  configurations: number;
  written: number;
  failed: number;
  vaultReads: number;
}

interface CacheEntry {
  at: number;
  read?: SecretRead;
  /** whether the value serves a setting, checked once per read (not once per configuration using it) */
  checked?: Map<SecretReferenceSetting, string | undefined>;
  error?: SecretReadError;
  failures: number;
  retryAt: number;
}

interface Outcome {
  doc: StoredDocument;
  found: Versioned<ConfigurationRecord>;
  /** the secrets document to write, or none */
  write?: ConfigurationSecrets;
  /** the agent's view changes: the cluster's desired state must be rebuilt */
  announce: boolean;
  /** the failure to show on the record, or undefined to clear one */
  failure?: string;
}

const MAX_BACKOFF_MS = 10 * 60_000;

/** "Key Vault 'v' secret 's' (version x): not found" — names and cause, never a value */
function failureMessage(setting: SecretReferenceSetting, ref: KeyVaultSecretReference, err: SecretReadError): string {
  const vault = parseVaultId(ref.keyVaultResourceId)?.name ?? ref.keyVaultResourceId;
  const cause: Record<SecretReadError["failure"], string> = {
    NotFound: "the secret (or that version) does not exist",
    Disabled: "the secret version is disabled",
    Forbidden: "the service's identity is not allowed to read it (grant it the 'get' secret permission, or the Key Vault Secrets User role)",
    Throttled: "Key Vault throttled the service; retrying",
    Unavailable: "Key Vault could not be reached; retrying",
  };
  return `The Key Vault secret for '${setting}' could not be read: vault '${vault}', secret '${ref.secretName}'${ref.secretVersion ? `, version '${ref.secretVersion}'` : ""}: ${cause[err.failure]}. The cluster keeps the secrets it last received; the service retries with backoff.`;
}

/**
 * Why a value read from the vault cannot serve its setting (the rules a PUT applies to values), or
 * undefined; the reason never quotes the value. Checked here so the configuration names the secret,
 * instead of the cluster failing on what it received.
 */
function unusable(setting: SecretReferenceSetting, value: string): string | undefined {
  const decoded = decodeBase64Strict(value.trim());
  if (!decoded || decoded.length === 0) return "its value is not base64 (store the value as the property takes it: base64)";
  if (setting === "sshPrivateKey" && !parsePrivateKey(decoded).ok) return "its value is not a usable SSH private key (base64 of an unencrypted OpenSSH or PEM private key)";
  if (setting === "sshKnownHostsContents" && knownHostsProblem(decoded.toString("utf8")) !== undefined) return "its value is not valid known_hosts contents";
  return undefined;
}

export class KeyVaultResolver {
  private readonly job: PeriodicJob<ResolvePassReport>;
  private readonly lease: Lease;
  private readonly cache = new Map<string, CacheEntry>();
  /** vault reads made by the pass in progress, and how many configurations used each (for the audit lines) */
  private reads = new Map<string, { vault: string; secret: string; version?: string; outcome: string; clusters: number }>();
  private passStartedAt = Number.NEGATIVE_INFINITY;
  /** the access checker's answers in the pass in progress: asked once per subscription, vault and principal per pass */
  private verdicts = new Map<string, Promise<boolean>>();
  private readonly passAccess: VaultAccessChecker = {
    mayUse: (request) => {
      const p = request.principal;
      const key = [request.subscriptionId.toLowerCase(), request.vaultId.toLowerCase(), p.tenantId, p.objectId, p.appId ?? "", p.kind].join("|");
      let verdict = this.verdicts.get(key);
      if (!verdict) {
        verdict = this.access.mayUse(request);
        this.verdicts.set(key, verdict);
      }
      return verdict;
    },
  };

  constructor(
    private readonly repo: Persistence,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    private readonly reader: SecretReader,
    private readonly options: KeyVaultResolverOptions,
    private readonly audit: KeyVaultReadAudit,
    private readonly log: (message: string, fields: Record<string, unknown>) => void = () => undefined,
    /** who may have which vault read: asked again before every read, for the principal the references were accepted for */
    private readonly access: VaultAccessChecker = NO_VAULTS,
  ) {
    this.lease = new Lease(repo.leases, clock, "keyvault-resolver", options.holder, options.leaseMs);
    this.job = new PeriodicJob({
      intervalMs: options.intervalMs,
      run: () => this.pass(),
      onError: (err) => this.log("Key Vault reference pass failed", { err }),
      runAtStart: true,
      lease: { lease: this.lease, skipped: () => ({ ran: false, configurations: 0, written: 0, failed: 0, vaultReads: 0 }) },
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** a PUT with new references in this process: resolve them now rather than at the next tick */
  wake(): void {
    this.job.wake();
  }

  runOnce(): Promise<ResolvePassReport> {
    return this.job.runOnce();
  }

  private async pass(): Promise<ResolvePassReport> {
    const report: ResolvePassReport = { ran: true, configurations: 0, written: 0, failed: 0, vaultReads: 0 };
    this.reads = new Map();
    this.verdicts = new Map();
    this.passStartedAt = this.clock.now();
    // the embedded store answers synchronously (each commit blocks the loop): API requests get their turn every slice
    const slicer = new Slicer();
    for await (const page of this.repo.configurations.scan()) {
      for (const group of byPartition(page)) {
        const subscriptionId = group[0]?.partition ?? "";
        const outcomes = await this.decide(subscriptionId, group, report);
        await slicer.maybeYield();
        await this.apply(subscriptionId, outcomes, report, slicer);
      }
    }
    report.vaultReads = this.reads.size;
    for (const fields of this.reads.values()) this.audit.read(fields);
    // entries nobody used for two refresh intervals are dropped: the cache holds what references name now
    const now = this.clock.now();
    for (const [key, entry] of this.cache) if (now - entry.at > 2 * this.options.refreshMs && now >= entry.retryAt) this.cache.delete(key);
    return report;
  }

  /** the secret through the cache: one vault read per vault/secret/version per refresh interval; failures back off */
  private async lookup(ref: KeyVaultSecretReference): Promise<CacheEntry> {
    const vault = (parseVaultId(ref.keyVaultResourceId)?.name ?? "").toLowerCase();
    const key = `${vault}/${ref.secretName.toLowerCase()}/${ref.secretVersion ?? ""}`;
    const now = this.clock.now();
    const cached = this.cache.get(key);
    // within one pass every configuration sees the same read (a long pass does not read again half-way)
    const fresh = cached && (cached.at >= this.passStartedAt || (cached.read ? now - cached.at < this.options.refreshMs : now < cached.retryAt));
    let entry: CacheEntry;
    if (cached && fresh) entry = cached;
    else {
      try {
        const read = await this.reader.read(vault, ref.secretName, ref.secretVersion);
        entry = { at: now, read, failures: 0, retryAt: now };
      } catch (err) {
        const error = err instanceof SecretReadError ? err : new SecretReadError("Unavailable", "Key Vault read failed", undefined, { cause: err });
        const failures = (cached?.failures ?? 0) + 1;
        // 1 s, 2 s, 4 s … at most 10 minutes; never sooner than the vault's Retry-After
        const backoff = Math.max(1000 * 2 ** Math.min(failures - 1, 16), error.transient && error.retryAfterSeconds !== undefined ? 1000 * error.retryAfterSeconds : 0);
        entry = { at: now, error, failures, retryAt: now + Math.min(backoff, MAX_BACKOFF_MS) };
        if (failures === 1 || (failures & (failures - 1)) === 0) this.log("Key Vault secret read failed", { vault, secret: ref.secretName, version: ref.secretVersion, failure: error.failure, attempts: failures });
      }
      this.cache.set(key, entry);
      this.reads.set(key, { vault, secret: ref.secretName, ...(entry.read ? { version: entry.read.version } : ref.secretVersion ? { version: ref.secretVersion } : {}), outcome: entry.read ? "read" : (entry.error?.failure ?? "failed"), clusters: 0 });
    }
    const audited = this.reads.get(key);
    if (audited) audited.clusters++;
    return entry;
  }

  /** what each configuration of one partition's page needs, from one read of their secrets documents */
  private async decide(subscriptionId: string, docs: StoredDocument[], report: ResolvePassReport): Promise<Outcome[]> {
    const live: { doc: StoredDocument; found: Versioned<ConfigurationRecord> }[] = [];
    for (const doc of docs) {
      if (doc.deleted) continue;
      const found = await this.repo.configurations.decode(doc);
      if (hasReferences(found.record)) live.push({ doc, found });
    }
    if (live.length === 0) return [];
    report.configurations += live.length;
    const stored = await this.repo.secrets.getMany(subscriptionId, live.map((c) => c.found.record.id));
    const now = this.clock.now();
    const outcomes: Outcome[] = [];
    for (const { doc, found } of live) {
      const record = found.record;
      // the configuration's store key is its lower-cased id, the key its secrets are found by
      const current = stored.get(doc.key);
      const own = current && secretsOf(record, current.secrets) && current.secrets.version === record.secrets.version ? current : undefined;
      // the document holds values read from the vault (a failure document written before any read holds none)
      const held = own?.secrets.keyVault?.resolvedAt !== undefined;
      const refs = record.spec.keyVaultReferences ?? {};
      const values: Partial<Record<SecretReferenceSetting, string>> = {};
      const versions: Partial<Record<SecretReferenceSetting, string>> = {};
      // the trust rule again, for the principal the references were accepted for: a principal no longer
      // allowed gets no new read (the configuration shows why; what it holds is not renewed)
      let failure: string | undefined;
      try {
        failure = await resolutionTrustFailure(this.passAccess, subscriptionId, record.spec);
      } catch (err) {
        // the checker cannot tell now: nothing read, nothing written, asked again next pass
        this.log("Key Vault access check failed; retrying next pass", { resourceId: record.id, err: (err as Error).message });
        continue;
      }
      for (const setting of SECRET_REFERENCE_SETTINGS) {
        const ref = refs[setting];
        if (!ref || failure !== undefined) continue;
        const entry = await this.lookup(ref);
        let problem: string | undefined;
        if (entry.read) {
          entry.checked ??= new Map();
          if (!entry.checked.has(setting)) entry.checked.set(setting, unusable(setting, entry.read.value));
          problem = entry.checked.get(setting);
        }
        if (entry.read && problem !== undefined) {
          const vault = parseVaultId(ref.keyVaultResourceId)?.name ?? ref.keyVaultResourceId;
          failure ??= `The Key Vault secret for '${setting}' cannot be used: vault '${vault}', secret '${ref.secretName}', version '${entry.read.version}': ${problem}. The cluster keeps the secrets it last received.`;
        } else if (entry.read) {
          values[setting] = entry.read.value.trim();
          versions[setting] = entry.read.version;
        } else if (entry.error) {
          failure ??= failureMessage(setting, ref, entry.error);
        }
      }
      if (failure !== undefined) {
        report.failed++;
        const previous = own?.secrets.keyVault;
        const unchanged = previous?.state === "Failed" && previous.message === failure && record.keyVaultFailure === failure;
        // the values held stay (same submittedAt: same expiry); the state says why they were not renewed
        const write: ConfigurationSecrets | undefined = unchanged
          ? undefined
          : {
              protectedSettings: own && held ? own.secrets.protectedSettings : {},
              ...(own && held && own.secrets.sshKnownHostsContents !== undefined ? { sshKnownHostsContents: own.secrets.sshKnownHostsContents } : {}),
              submittedAt: own && held ? own.secrets.submittedAt : now,
              version: record.secrets.version,
              keyVault: {
                state: "Failed",
                resolvedVersions: own && held ? (own.secrets.keyVault?.resolvedVersions ?? {}) : {},
                ...(own && held && own.secrets.keyVault?.resolvedAt !== undefined ? { resolvedAt: own.secrets.keyVault.resolvedAt } : {}),
                message: failure,
              },
            };
        outcomes.push({ doc, found, ...(write ? { write } : {}), announce: false, failure });
        continue;
      }
      const previous = own?.secrets.keyVault;
      const sameVersions = held && SECRET_REFERENCE_SETTINGS.every((s) => previous?.resolvedVersions[s] === versions[s]);
      const renewDue = own?.expiresAt !== undefined && own.expiresAt - now < this.options.retentionMs / 2;
      if (own && sameVersions && previous?.state === "Resolved" && !renewDue && record.keyVaultFailure === undefined) continue;
      const { sshKnownHostsContents, ...protectedSettings } = values;
      outcomes.push({
        doc,
        found,
        write: {
          protectedSettings,
          ...(sshKnownHostsContents !== undefined ? { sshKnownHostsContents } : {}),
          submittedAt: now,
          version: record.secrets.version,
          keyVault: { state: "Resolved", resolvedVersions: versions, resolvedAt: now },
        },
        // a renewal of the same versions changes nothing the agent acts on; new versions, or values the
        // cluster could not get until now, do
        announce: !sameVersions,
      });
    }
    return outcomes;
  }

  /** writes in groups (one commit each); a group that loses a race is written one configuration at a time */
  private async apply(subscriptionId: string, outcomes: Outcome[], report: ResolvePassReport, slicer: Slicer): Promise<void> {
    const size = this.options.groupSize ?? 15;
    for (let i = 0; i < outcomes.length; i += size) {
      await slicer.maybeYield();
      const group = outcomes.slice(i, i + size);
      try {
        await this.repo.atomically(async () => {
          for (const o of group) await this.stage(subscriptionId, o);
        });
        report.written += group.filter((o) => o.write).length;
      } catch (err) {
        this.log("Key Vault reference group write failed; writing one by one", { err: (err as Error).message });
        for (const o of group) {
          try {
            const fresh = await this.repo.configurations.get(subscriptionId, o.found.record.id);
            if (!fresh || fresh.deleted || fresh.record.secrets.version !== o.found.record.secrets.version) continue;
            await this.repo.atomically(() => this.stage(subscriptionId, { ...o, found: fresh }));
            if (o.write) report.written++;
          } catch (e) {
            this.log("Key Vault reference write failed", { resourceId: o.found.record.id, err: (e as Error).message });
          }
        }
      }
    }
  }

  /** one configuration's writes, staged in the caller's unit of work */
  private async stage(subscriptionId: string, o: Outcome): Promise<void> {
    const record = o.found.record;
    if (o.write) {
      const write = await this.repo.secrets.prepare(subscriptionId, record, o.write);
      await write();
    }
    // the record shows a failure (and an assignment's compliance with it) until a read succeeds again
    if (o.failure !== record.keyVaultFailure) {
      const { keyVaultFailure: _dropped, ...rest } = record;
      const updated: ConfigurationRecord =
        o.failure !== undefined
          ? { ...rest, keyVaultFailure: o.failure, complianceStatus: { complianceState: "Failed", message: o.failure, messageLevel: "Error" } }
          : { ...rest, complianceStatus: recoveredStatus(record, o.write?.keyVault?.resolvedVersions ?? {}) };
      const writeRecord = await this.repo.configurations.prepare(subscriptionId, updated, o.found.etag);
      await writeRecord();
    }
    if (o.announce || o.failure !== record.keyVaultFailure) await announce(this.repo, this.bus, subscriptionId, record.clusterId, "configurations");
  }
}

/** after a failure: Installed again if the agent already applied exactly these versions, else waiting for it */
function recoveredStatus(record: ConfigurationRecord, versions: Partial<Record<SecretReferenceSetting, string>>): ConfigurationRecord["complianceStatus"] {
  const applied = record.observedGeneration === record.generation && SECRET_REFERENCE_SETTINGS.every((s) => record.appliedSecretVersions?.[s] === versions[s]);
  return applied
    ? { complianceState: "Installed", message: "The Key Vault secrets can be read again; the cluster applied these versions.", messageLevel: "Information" }
    : { complianceState: "Pending", message: "The Key Vault secrets were read; waiting for the cluster agent to apply them.", messageLevel: "Information" };
}
