/**
 * The agent loop: pull the desired configurations, write each one's Flux v1 manifests under `outDir/<name>/`,
 * report status. State (applied generations, whether the report got through) lives in `outDir/.agent-state.json`,
 * so a restart neither rewrites nor re-reports what is already done.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { compactDecrypt } from "jose";
import { AgentHttpError, type PollResult } from "./client.js";
import { renderManifests } from "./manifests.js";
import { renderFluxV2Manifests } from "./manifests-v2.js";
import { sshPublicKeyOf } from "./ssh-public-key.js";
import type { DesiredConfiguration, DesiredFluxConfiguration, FluxObjectStatus, FluxStatusReport, Heartbeat, StatusReport, UnsealedSettings } from "../contract/agent-api.js";

export const AGENT_VERSION = "0.1.0";
export const STATE_FILE = ".agent-state.json";
export const DEPLOY_KEY_FILE = ".deploy-key.pub";
/** where Flux v2 objects are written, one sub-directory per fluxConfiguration ('_' is never in a v1 name: no clash) */
export const FLUX_V2_DIR = "_flux-v2";

/** What the agent needs from AgentClient (an interface so tests can substitute it). */
export interface AgentApi {
  poll(opts: { waitSeconds?: number; etag?: string; signal?: AbortSignal }): Promise<PollResult>;
  reportStatus(name: string, report: StatusReport, signal?: AbortSignal): Promise<{ accepted: boolean }>;
  /** Flux v2 (issue #16); an API without it leaves fluxConfigurations unapplied (logged) */
  reportFluxStatus?(name: string, report: FluxStatusReport, signal?: AbortSignal): Promise<{ accepted: boolean }>;
  heartbeat(info: Heartbeat, signal?: AbortSignal): Promise<void>;
}

export interface AppliedEvent {
  name: string;
  generation: number;
  removed: boolean;
  /** absolute paths of the manifests written (empty when removed or when only the report was retried) */
  files: string[];
  report: StatusReport | FluxStatusReport;
  accepted: boolean;
  /** "v2" for a Flux v2 fluxConfiguration */
  kind?: "v1" | "v2";
}

export interface AgentOptions {
  client: AgentApi;
  /** opens the protectedSettings JWEs */
  privateKey: crypto.KeyObject;
  outDir: string;
  /** long-poll wait in run(); 0 = plain polling every pollIntervalSeconds (default 30) */
  waitSeconds?: number;
  /** heartbeat at start and after every this many polls (default 10) */
  heartbeatEveryPolls?: number;
  heartbeat?: Partial<Heartbeat>;
  /** the longest back-off after errors, ms (default 60000) */
  maxBackoffMs?: number;
  /** used when the service has not said yet (default 60) */
  defaultPollIntervalSeconds?: number;
  onApplied?: (event: AppliedEvent) => void;
  log?: (level: "info" | "warn" | "error", message: string) => void;
  now?: () => Date;
}

export interface RunOnceResult {
  status: 200 | 304;
  pollIntervalSeconds?: number;
  applied: string[];
  removed: string[];
  failed: string[];
  skipped: string[];
}

interface AppliedRecord {
  generation: number;
  /** the status report for this generation got a 200 */
  reported: boolean;
  removed?: boolean;
  appliedAt?: string;
  protectedSettingsReceived?: boolean;
  /** the repositoryPublicKey reported for this generation (absent: none could be derived from the user's key) */
  repositoryPublicKey?: string;
  /** the Key Vault secret versions applied with this generation */
  secretVersions?: Record<string, string>;
}

/** the same secret versions (both absent counts as the same) */
const sameVersions = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean =>
  JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b ?? {}).sort());

interface AgentState {
  version: 1;
  serviceGeneration?: number;
  configurations: Record<string, AppliedRecord>;
  /** Flux v2 fluxConfigurations, by name (absent in a state file written before them) */
  fluxConfigurations?: Record<string, AppliedRecord>;
}

export class Agent {
  private etag: string | undefined;
  private pollIntervalSeconds: number | undefined;
  private readonly outDir: string;
  private readonly log: NonNullable<AgentOptions["log"]>;
  private readonly now: () => Date;

  constructor(private readonly options: AgentOptions) {
    this.outDir = path.resolve(options.outDir);
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
  }

  /** One poll (by default without waiting) and, on a 200, one pass over every configuration. */
  async runOnce(opts: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<RunOnceResult> {
    const result: RunOnceResult = { status: 304, applied: [], removed: [], failed: [], skipped: [] };
    const polled = await this.options.client.poll({
      waitSeconds: opts.waitSeconds ?? 0,
      ...(this.etag ? { etag: this.etag } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (polled.status === 304) return result;
    result.status = 200;
    const desired = polled.state;
    if (typeof desired.pollIntervalSeconds === "number" && desired.pollIntervalSeconds > 0) this.pollIntervalSeconds = desired.pollIntervalSeconds;
    result.pollIntervalSeconds = this.pollIntervalSeconds;

    fs.mkdirSync(this.outDir, { recursive: true, mode: 0o700 });
    const state = this.readState();
    state.serviceGeneration = desired.generation;
    let complete = true;
    const listed = new Set<string>();
    for (const configuration of desired.configurations ?? []) {
      listed.add(configuration.name);
      try {
        const outcome = await this.reconcile(configuration, state, opts.signal);
        result[outcome].push(configuration.name);
      } catch (err) {
        // the report could not be delivered: keep the old ETag so the next poll brings the configuration again
        complete = false;
        result.failed.push(configuration.name);
        this.log("error", `configuration ${configuration.name}: ${errorMessage(err)}`);
      } finally {
        this.writeState(state);
      }
    }
    // a configuration the service no longer lists at all (purged without a tombstone we saw) is pruned silently
    for (const name of Object.keys(state.configurations)) {
      if (listed.has(name)) continue;
      this.removeDir(name);
      delete state.configurations[name];
      this.log("info", `configuration ${name} is no longer listed; its manifests were removed`);
    }
    // Flux v2 fluxConfigurations (issue #16): after v1, so that a migration's "remove v1, apply v2" (one
    // desired-state version) removes the Flux v1 operator before Flux v2 objects take over its repository
    const fluxState = (state.fluxConfigurations ??= {});
    const fluxListed = new Set<string>();
    for (const configuration of desired.fluxConfigurations ?? []) {
      fluxListed.add(configuration.name);
      try {
        const outcome = await this.reconcileFlux(configuration, fluxState, state, opts.signal);
        result[outcome].push(`${FLUX_V2_DIR}/${configuration.name}`);
      } catch (err) {
        complete = false;
        result.failed.push(`${FLUX_V2_DIR}/${configuration.name}`);
        this.log("error", `fluxConfiguration ${configuration.name}: ${errorMessage(err)}`);
      } finally {
        this.writeState(state);
      }
    }
    for (const name of Object.keys(fluxState)) {
      if (fluxListed.has(name)) continue;
      this.removeDir(name, this.fluxDir);
      delete fluxState[name];
      this.log("info", `fluxConfiguration ${name} is no longer listed; its manifests were removed`);
    }
    this.writeState(state);
    if (complete) this.etag = polled.etag;
    return result;
  }

  /** Polls until `signal` aborts: long-polls with the ETag, heartbeats, backs off with jitter on errors. */
  async run(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = opts;
    const waitSeconds = this.options.waitSeconds ?? 30;
    const heartbeatEvery = Math.max(1, this.options.heartbeatEveryPolls ?? 10);
    const maxBackoff = this.options.maxBackoffMs ?? 60_000;
    let polls = 0;
    let failures = 0;
    await this.sendHeartbeat(signal);
    while (!signal?.aborted) {
      const started = Date.now();
      let pause: number;
      try {
        const r = await this.runOnce({ waitSeconds, ...(signal ? { signal } : {}) });
        failures = 0;
        const interval = (this.pollIntervalSeconds ?? this.options.defaultPollIntervalSeconds ?? 60) * 1000;
        const held = Date.now() - started >= (waitSeconds * 1000) / 2;
        if (waitSeconds === 0) pause = interval; // plain polling
        else if (r.status === 304 && !held) pause = interval; // the service did not hold the request: do not spin
        else if (r.status === 200 && !held) pause = 1000; // something changed: look again soon (the ETag makes it wait)
        else pause = 0;
        if (r.failed.length > 0) pause = Math.max(pause, this.backoff(1, maxBackoff));
      } catch (err) {
        if (signal?.aborted) break;
        failures++;
        pause = this.backoff(failures, maxBackoff);
        this.log("warn", `poll failed (${failures} in a row), retrying in ${Math.round(pause / 1000)} s: ${errorMessage(err)}`);
      }
      polls++;
      if (polls % heartbeatEvery === 0) await this.sendHeartbeat(signal);
      if (pause > 0 && !(await pauseFor(pause, signal))) break;
    }
  }

  /** Full jitter between half and all of min(max, 1 s · 2^(n-1)). */
  private backoff(failures: number, maxMs: number): number {
    const ceiling = Math.min(maxMs, 1000 * 2 ** Math.min(failures - 1, 16));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private async sendHeartbeat(signal: AbortSignal | undefined): Promise<void> {
    const info: Heartbeat = {
      agentVersion: this.options.heartbeat?.agentVersion ?? AGENT_VERSION,
      kubernetesVersion: this.options.heartbeat?.kubernetesVersion ?? "unknown",
      totalNodeCount: this.options.heartbeat?.totalNodeCount ?? 1,
    };
    try {
      await this.options.client.heartbeat(info, signal);
    } catch (err) {
      if (!signal?.aborted) this.log("warn", `heartbeat failed: ${errorMessage(err)}`);
    }
  }

  private async reconcile(c: DesiredConfiguration, state: AgentState, signal: AbortSignal | undefined): Promise<"applied" | "removed" | "failed" | "skipped"> {
    const known = state.configurations[c.name];
    if (c.deleted) {
      if (known?.removed && known.generation === c.generation && known.reported) return "skipped";
      if (!isSafeName(c.name)) throw new Error(`refusing to remove a directory for the configuration name '${c.name}'`);
      this.removeDir(c.name);
      state.configurations[c.name] = { generation: c.generation, reported: false, removed: true };
      this.writeState(state);
      const report: StatusReport = {
        observedGeneration: c.generation,
        complianceState: "Installed",
        message: "The operator manifests were removed.",
        messageLevel: "Information",
        removed: true,
      };
      await this.send(c, report, [], true, state, signal);
      return "removed";
    }

    // a rotation of Key Vault secrets brings new versions under the same generation: applied again
    if (known && !known.removed && known.generation === c.generation && sameVersions(known.secretVersions, c.secretVersions)) {
      if (known.reported) return "skipped";
      // applied earlier, but the report did not get through: report again, do not rewrite
      const publicKey = "repositoryPublicKey" in known ? known.repositoryPublicKey : this.deployKey(c.name, c.properties.operatorInstanceName);
      await this.send(c, this.installedReport(c, known.appliedAt ?? this.now().toISOString(), known.protectedSettingsReceived === true, publicKey), [], false, state, signal);
      return "applied";
    }

    let files: string[];
    let secretsReceived = false;
    let appliedAt: string;
    let publicKey: string | undefined;
    try {
      if (!isSafeName(c.name)) throw new Error(`the configuration name '${c.name}' cannot be used as a directory name`);
      const secrets = c.protectedSettings ? await this.unseal(c.protectedSettings) : undefined;
      secretsReceived = secrets !== undefined;
      const manifests = renderManifests(c, secrets);
      files = this.writeAtomically(c.name, manifests);
      appliedAt = this.now().toISOString();
      publicKey = this.repositoryPublicKey(c, secrets);
    } catch (err) {
      const report: StatusReport = {
        observedGeneration: c.generation,
        complianceState: "Failed",
        message: errorMessage(err).slice(0, 4096), // the service's limit
        messageLevel: "Error",
      };
      // a failure is not recorded as applied, so the next change (or restart) tries again
      await this.options.client.reportStatus(c.name, report, signal);
      return "failed";
    }
    state.configurations[c.name] = {
      generation: c.generation,
      reported: false,
      appliedAt,
      protectedSettingsReceived: secretsReceived,
      repositoryPublicKey: publicKey,
      ...(c.secretVersions ? { secretVersions: c.secretVersions } : {}),
    };
    this.writeState(state);
    await this.send(c, this.installedReport(c, appliedAt, secretsReceived, publicKey), files, false, state, signal);
    return "applied";
  }

  private get fluxDir(): string {
    return path.join(this.outDir, FLUX_V2_DIR);
  }

  /** one Flux v2 fluxConfiguration: render GitRepository, Kustomizations and the auth Secret, report compliance */
  private async reconcileFlux(c: DesiredFluxConfiguration, known: Record<string, AppliedRecord>, state: AgentState, signal: AbortSignal | undefined): Promise<"applied" | "removed" | "failed" | "skipped"> {
    const report = this.options.client.reportFluxStatus?.bind(this.options.client);
    if (!report) throw new Error("this agent API client cannot report fluxConfiguration status");
    const record = known[c.name];
    const send = async (r: FluxStatusReport, files: string[], removed: boolean) => {
      const { accepted } = await report(c.name, r, signal);
      if (!accepted) this.log("warn", `the service did not accept the status of fluxConfiguration ${c.name} generation ${c.generation}`);
      const kept = known[c.name];
      if (kept) kept.reported = true;
      this.writeState(state);
      if (this.options.onApplied) this.options.onApplied({ name: c.name, generation: c.generation, removed, files, report: r, accepted, kind: "v2" });
      else this.log("info", `fluxConfiguration ${c.name} generation ${c.generation} ${removed ? "removed" : "applied"}`);
    };
    if (c.deleted) {
      if (record?.removed && record.generation === c.generation && record.reported) return "skipped";
      if (!isSafeName(c.name)) throw new Error(`refusing to remove a directory for the fluxConfiguration name '${c.name}'`);
      this.removeDir(c.name, this.fluxDir);
      known[c.name] = { generation: c.generation, reported: false, removed: true };
      this.writeState(state);
      await send({ observedGeneration: c.generation, complianceState: "Compliant", removed: true }, [], true);
      return "removed";
    }
    if (record && !record.removed && record.generation === c.generation) {
      if (record.reported) return "skipped";
      await send(this.fluxReport(c, record.appliedAt ?? this.now().toISOString(), record.protectedSettingsReceived === true, record.repositoryPublicKey), [], false);
      return "applied";
    }
    let files: string[];
    let appliedAt: string;
    let secretsReceived = false;
    let publicKey: string | undefined;
    try {
      if (!isSafeName(c.name)) throw new Error(`the fluxConfiguration name '${c.name}' cannot be used as a directory name`);
      const secrets = c.protectedSettings ? await this.unseal(c.protectedSettings) : undefined;
      secretsReceived = secrets !== undefined;
      files = this.writeAtomically(c.name, renderFluxV2Manifests(c, secrets), this.fluxDir);
      appliedAt = this.now().toISOString();
      const own = secrets?.protectedSettings.sshPrivateKey;
      publicKey = own !== undefined ? sshPublicKeyOf(own, `flux-${c.name}`) : undefined;
    } catch (err) {
      // not recorded as applied: the next change (or restart) tries again
      await report(c.name, { observedGeneration: c.generation, complianceState: "Non-Compliant", errorMessage: errorMessage(err).slice(0, 4096) }, signal);
      return "failed";
    }
    known[c.name] = { generation: c.generation, reported: false, appliedAt, protectedSettingsReceived: secretsReceived, ...(publicKey !== undefined ? { repositoryPublicKey: publicKey } : {}) };
    this.writeState(state);
    await send(this.fluxReport(c, appliedAt, secretsReceived, publicKey), files, false);
    return "applied";
  }

  /** what Flux v2 would report once its objects are reconciled: each object Ready, the ref synced */
  private fluxReport(c: DesiredFluxConfiguration, appliedAt: string, secretsReceived: boolean, publicKey: string | undefined): FluxStatusReport {
    const p = c.properties;
    const state: FluxObjectStatus["complianceState"] = p.suspend ? "Suspended" : "Compliant";
    const ready = [{ type: "Ready", status: "True", reason: "Succeeded", message: "Written by the reference agent.", lastTransitionTime: appliedAt }];
    const statuses: FluxObjectStatus[] = [
      { name: c.name, namespace: p.namespace, kind: "GitRepository", complianceState: state, statusConditions: ready },
      ...Object.keys(p.kustomizations ?? {}).map((k) => ({ name: `${c.name}-${k}`, namespace: p.namespace, kind: "Kustomization", complianceState: state, statusConditions: ready })),
    ];
    const ref = p.gitRepository.repositoryRef ?? {};
    // only a pinned commit is known without cloning: Flux's own form, <branch>@sha1:<commit>
    const synced = ref.commit !== undefined ? `${ref.branch ?? "HEAD"}@sha1:${ref.commit}` : undefined;
    return {
      observedGeneration: c.generation,
      complianceState: state,
      statuses,
      ...(synced !== undefined ? { sourceSyncedCommitId: synced } : {}),
      sourceUpdatedAt: appliedAt,
      ...(publicKey !== undefined ? { repositoryPublicKey: publicKey } : {}),
      ...(secretsReceived ? { protectedSettingsReceived: true } : {}),
    };
  }

  /**
   * What Flux would report as the repository's public key: the public half of the user's own key when one was
   * given (undefined when it cannot be read: no key is better than a wrong one), else the deploy key Flux generates.
   */
  private repositoryPublicKey(c: DesiredConfiguration, secrets: UnsealedSettings | undefined): string | undefined {
    const own = secrets?.protectedSettings.sshPrivateKey;
    const comment = `flux-${c.properties.operatorInstanceName}`;
    if (own === undefined) return this.deployKey(c.name, c.properties.operatorInstanceName);
    fs.rmSync(path.join(this.outDir, c.name, DEPLOY_KEY_FILE), { force: true }); // a generated key no longer applies
    return sshPublicKeyOf(own, comment);
  }

  private installedReport(c: DesiredConfiguration, appliedAt: string, secretsReceived: boolean, publicKey: string | undefined): StatusReport {
    return {
      observedGeneration: c.generation,
      complianceState: "Installed",
      message: "The Flux operator manifests were written.",
      messageLevel: "Information",
      lastConfigApplied: appliedAt,
      ...(publicKey !== undefined ? { repositoryPublicKey: publicKey } : {}),
      ...(secretsReceived ? { protectedSettingsReceived: true } : {}),
      ...(c.secretVersions ? { secretVersions: c.secretVersions } : {}),
    };
  }

  private async send(c: DesiredConfiguration, report: StatusReport, files: string[], removed: boolean, state: AgentState, signal: AbortSignal | undefined): Promise<void> {
    const { accepted } = await this.options.client.reportStatus(c.name, report, signal);
    if (!accepted) this.log("warn", `the service did not accept the status of ${c.name} generation ${c.generation}`);
    const record = state.configurations[c.name];
    if (record) record.reported = true; // a tombstone's record stays until the service stops listing it
    this.writeState(state);
    // one line per apply: the onApplied handler's when there is one, else the log's
    if (this.options.onApplied) this.options.onApplied({ name: c.name, generation: c.generation, removed, files, report, accepted });
    else this.log("info", `${c.name} generation ${c.generation} ${removed ? "removed" : "applied"}`);
  }

  private async unseal(jwe: string): Promise<UnsealedSettings> {
    const { plaintext } = await compactDecrypt(jwe, this.options.privateKey, {
      keyManagementAlgorithms: ["RSA-OAEP-256", "ECDH-ES+A256KW"],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    const parsed = JSON.parse(new TextDecoder().decode(plaintext)) as unknown;
    if (typeof parsed !== "object" || parsed === null) throw new Error("the protected settings are not a JSON object");
    const obj = parsed as Record<string, unknown>;
    const ps = (obj.protectedSettings ?? {}) as Record<string, unknown>;
    if (typeof ps !== "object" || ps === null || Array.isArray(ps)) throw new Error("protectedSettings is not an object");
    const out: UnsealedSettings = { protectedSettings: {} };
    for (const k of ["sshPrivateKey", "httpsUser", "httpsKey"] as const) {
      const v = ps[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== "string") throw new Error(`protectedSettings.${k} is not a string`);
      out.protectedSettings[k] = v;
    }
    if (typeof obj.sshKnownHostsContents === "string") out.sshKnownHostsContents = obj.sshKnownHostsContents;
    return out;
  }

  /** The public half of the configuration's (simulated) Flux deploy key, generated once and kept with its manifests. */
  private deployKey(name: string, instance: string): string {
    const file = path.join(this.outDir, name, DEPLOY_KEY_FILE);
    if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
    const key = newDeployKey(instance);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, `${key}\n`, { mode: 0o644 });
    return key;
  }

  /** Writes the manifests into a fresh directory, then swaps it in with renames; the deploy key survives re-applies. */
  private writeAtomically(name: string, manifests: Array<{ path: string; yaml: string }>, baseDir: string = this.outDir): string[] {
    const suffix = `${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
    fs.mkdirSync(baseDir, { recursive: true, mode: 0o700 });
    const tmp = path.join(baseDir, `.${name}.tmp-${suffix}`);
    const old = path.join(baseDir, `.${name}.old-${suffix}`);
    const target = path.join(baseDir, name);
    fs.mkdirSync(tmp, { mode: 0o700 });
    try {
      const written: string[] = [];
      for (const m of manifests) {
        const rel = path.relative(name, m.path);
        if (rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`manifest path ${m.path} is outside ${name}/`);
        const file = path.join(tmp, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fs.writeFileSync(file, m.yaml, { mode: 0o600 }); // Secrets live here
        written.push(path.join(target, rel));
      }
      const existingKey = path.join(target, DEPLOY_KEY_FILE);
      if (fs.existsSync(existingKey)) fs.copyFileSync(existingKey, path.join(tmp, DEPLOY_KEY_FILE));
      const hadTarget = fs.existsSync(target);
      if (hadTarget) fs.renameSync(target, old);
      try {
        fs.renameSync(tmp, target);
      } catch (err) {
        if (hadTarget) fs.renameSync(old, target);
        throw err;
      }
      if (hadTarget) fs.rmSync(old, { recursive: true, force: true });
      return written;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  private removeDir(name: string, baseDir: string = this.outDir): void {
    if (!isSafeName(name)) return;
    fs.rmSync(path.join(baseDir, name), { recursive: true, force: true });
  }

  private readState(): AgentState {
    const file = path.join(this.outDir, STATE_FILE);
    try {
      const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as AgentState;
      if (parsed && typeof parsed.configurations === "object" && parsed.configurations !== null) return parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.log("warn", `ignoring unreadable ${file}: ${errorMessage(err)}`);
    }
    return { version: 1, configurations: {} };
  }

  private writeState(state: AgentState): void {
    const file = path.join(this.outDir, STATE_FILE);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
}

/** `ssh-ed25519 AAAA... flux-<instance>`: the wire form of a fresh ed25519 public key (the private half is discarded). */
export function newDeployKey(comment: string): string {
  const { publicKey } = crypto.generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  const str = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")} flux-${comment}`;
}

function isSafeName(name: string): boolean {
  return typeof name === "string" && name.length > 0 && !name.startsWith(".") && !/[/\\\0]/.test(name);
}

function errorMessage(err: unknown): string {
  if (err instanceof AgentHttpError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Sleeps; false when aborted. */
async function pauseFor(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
    return true;
  } catch {
    return false;
  }
}
