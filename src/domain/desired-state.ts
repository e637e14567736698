/**
 * What each cluster's agent should run, served from memory.
 *
 * A snapshot per cluster holds the response body (configurations, tombstones, protected settings
 * sealed to the cluster's key as JWE) and its ETag. Freshness:
 * - in this process, every change goes through the domain, which bumps the cluster's version marker
 *   and announces it on the ChangeBus: the snapshot is dropped at once (exact);
 * - changes made by another replica are seen within `stalenessMs`: after that a poll re-reads the
 *   cluster's version marker (one point read) and rebuilds only if it moved (bounded-stale).
 * A poll that finds nothing new therefore costs no store call while the snapshot is fresh.
 * Long polls wait on the bus, and re-check the marker every `stalenessMs` for other replicas' writes.
 */
import { LRUCache } from "lru-cache";
import crypto from "node:crypto";
import { CompactEncrypt } from "jose";
import { clusterKeyOf, EVERY_CLUSTER, keyOf, type ClusterId, type ClusterKey } from "../arm/resource-ids.js";
import type { Clock } from "../ports/clock.js";
import { errors } from "../arm/errors.js";
import { agentKeyOf, type AgentKey } from "./agent-keys.js";
import type { ChangeBus } from "./changes.js";
import type { ClusterRef } from "./clusters.js";
import type { Persistence } from "../persistence/index.js";
import { hasReferences, hasSecrets, secretsOf } from "./configurations.js";
import { fluxHasSecrets, fluxSecretsOf } from "./flux-configurations.js";
import type { ConfigurationRecord, ConfigurationSecrets, FluxConfigurationRecord, SecretReferenceSetting } from "./types.js";

export interface Snapshot {
  version: number;
  /** a flat string (not a slice of the digest nor a concatenation, which keep their parts) */
  etag: string;
  /** the JSON body without pollIntervalSeconds (added per response, with jitter) */
  json: string;
  /** ms since the DesiredState's origin (a small integer, kept unboxed in the object) */
  checkedAt: number;
  /** when the first secret it carries expires, in ms since the origin (NEVER when none) */
  expiresAt: number;
}

/** expiresAt of a snapshot carrying no expiring secret: a small integer too (Infinity would be boxed per snapshot) */
const NEVER = -1;

export interface DesiredStateOptions {
  stalenessMs: number;
  pollIntervalSeconds: number;
  /** the fleet size a replica serves: snapshots kept in memory */
  maxClusters: number;
}

export class ClusterGoneError extends Error {
  constructor(public readonly clusterKey: ClusterKey) {
    super(`cluster ${clusterKey} does not exist`);
    this.name = "ClusterGoneError";
  }
}

const encoder = new TextEncoder();

async function sealTo(agentKey: AgentKey, secrets: ConfigurationSecrets): Promise<string> {
  const payload = { protectedSettings: secrets.protectedSettings, ...(secrets.sshKnownHostsContents !== undefined ? { sshKnownHostsContents: secrets.sshKnownHostsContents } : {}) };
  return new CompactEncrypt(encoder.encode(JSON.stringify(payload))).setProtectedHeader({ alg: agentKey.jweAlg, enc: "A256GCM", cty: "application/json" }).encrypt(agentKey.key);
}

function agentView(record: ConfigurationRecord, deleted: boolean, sealed: string | undefined, secretVersions?: Partial<Record<SecretReferenceSetting, string>>) {
  const s = record.spec;
  return {
    name: record.name,
    id: record.id,
    generation: record.generation,
    deleted,
    properties: {
      repositoryUrl: s.repositoryUrl,
      operatorNamespace: s.operatorNamespace,
      operatorInstanceName: s.operatorInstanceName,
      operatorType: s.operatorType,
      ...(s.operatorParams !== undefined ? { operatorParams: s.operatorParams } : {}),
      operatorScope: s.operatorScope,
      ...(s.enableHelmOperator !== undefined ? { enableHelmOperator: s.enableHelmOperator } : {}),
      ...(s.helmOperatorProperties !== undefined ? { helmOperatorProperties: s.helmOperatorProperties } : {}),
    },
    ...(sealed !== undefined ? { protectedSettings: sealed } : {}),
    // what the sealed values are, for a configuration whose secrets come from Key Vault: the agent applies
    // again when they change (a rotation, no new generation) and reports the versions it applied
    ...(secretVersions !== undefined && sealed !== undefined ? { secretVersions } : {}),
  };
}

/** a Flux v2 fluxConfiguration as the agent applies it (openapi/agent.json AgentFluxConfiguration) */
function agentFluxView(record: FluxConfigurationRecord, deleted: boolean, sealed: string | undefined) {
  const s = record.spec;
  return {
    name: record.name,
    id: record.id,
    generation: record.generation,
    deleted,
    properties: {
      scope: s.scope,
      namespace: s.namespace,
      sourceKind: s.sourceKind,
      suspend: s.suspend,
      gitRepository: s.gitRepository,
      kustomizations: s.kustomizations,
    },
    ...(sealed !== undefined ? { protectedSettings: sealed } : {}),
  };
}

/** NEVER is never reached; a finite expiry is, as the origin-relative clock passes it */
const expired = (snapshot: Snapshot, now: number): boolean => snapshot.expiresAt !== NEVER && now >= snapshot.expiresAt;

/** the earlier of two expiries (NEVER being the latest) */
const earlier = (a: number, b: number): number => (a === NEVER ? b : b === NEVER ? a : Math.min(a, b));

export class DesiredState {
  /**
   * One snapshot per cluster, sized for the whole fleet (maxClusters) and never aged out: an agent
   * polling an unchanged cluster gets its 304 from memory with no store call. Changes evict
   * (the bus), secrets expiry is the snapshot's own expiresAt; the bound only stops unbounded growth.
   */
  private readonly snapshots: LRUCache<string, Snapshot>;
  private readonly building = new Map<string, Promise<Snapshot>>();
  /** snapshots built, for tests and metrics */
  builds = 0;
  /** bumped by every announced change */
  private epoch = 0;
  /** checkedAt and expiresAt are counted from here */
  private readonly origin: number;
  /**
   * the string another per-cluster cache already holds for this cluster key (the agent authenticator's),
   * so the snapshot cache keys by it instead of a copy of its own (~150 B a cluster); set by the app
   */
  sharedKey?: (key: ClusterKey) => string | undefined;

  constructor(
    private readonly repo: Persistence,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    private readonly options: DesiredStateOptions,
  ) {
    this.origin = clock.now();
    this.snapshots = new LRUCache({ max: options.maxClusters });
    bus.on((change) => {
      // a build in flight started before this change: its result must not be kept, nor joined
      this.epoch++;
      if (change.clusterKey === EVERY_CLUSTER) {
        this.snapshots.clear();
        this.building.clear();
      } else {
        this.snapshots.delete(change.clusterKey);
        this.building.delete(change.clusterKey);
      }
    });
  }

  /** set when a ChangeWatcher runs: while it is healthy, snapshots stay valid until a change is announced */
  watcher?: { healthy(): boolean };

  /** the cluster's snapshot when memory holds a fresh one (no store call, no promise); else undefined: get() */
  fresh(ref: ClusterRef): Snapshot | undefined {
    const cached = this.snapshots.get(clusterKeyOf(ref.id));
    if (!cached) return undefined;
    const now = this.clock.now() - this.origin;
    if (expired(cached, now)) return undefined;
    return this.watcher?.healthy() || now - cached.checkedAt < this.options.stalenessMs ? cached : undefined;
  }

  /** the cluster's current snapshot: from memory when fresh, else checked against its version marker */
  async get(ref: ClusterRef): Promise<Snapshot> {
    const id = ref.id;
    const key = clusterKeyOf(id);
    const cached = this.snapshots.get(key);
    const now = this.clock.now() - this.origin;
    if (cached && expired(cached, now)) this.snapshots.delete(key);
    else if (cached && (this.watcher?.healthy() || now - cached.checkedAt < this.options.stalenessMs)) return cached;
    else if (cached) {
      const version = await this.repo.markers.version(ref.subscriptionId, id);
      if (version === cached.version && this.snapshots.get(key) === cached) {
        cached.checkedAt = now;
        return cached;
      }
    }
    let pending = this.building.get(key);
    if (!pending) {
      // one build per cluster at a time: a fleet waking up together does not stampede the store
      const own: Promise<Snapshot> = this.build(ref, id, key).finally(() => {
        if (this.building.get(key) === own) this.building.delete(key);
      });
      pending = own;
      this.building.set(key, pending);
    }
    return pending;
  }

  /**
   * One snapshot is one committed version. Its reads (the cluster, v1 configurations, fluxConfigurations,
   * secrets) are separate store calls, so a commit landing between them would mix two versions: the v1 -> v2
   * migration retires v1 and creates v2 in one commit, and a mixed read would show both, or neither
   * (docs/design/flux-v2.md, "One poll"). The marker is read again after them; when it moved, the snapshot is
   * built again, and only a snapshot whose reads all saw one version is served or kept.
   */
  private async build(ref: ClusterRef, id: ClusterId, key: ClusterKey): Promise<Snapshot> {
    for (let attempt = 1; ; attempt++) {
      const startedAt = this.epoch;
      const snapshot = await this.buildOnce(ref, id, key);
      if ((await this.repo.markers.version(ref.subscriptionId, id)) === snapshot.version) {
        // kept only if no change was announced meanwhile (the caller still gets it: it was true when read)
        if (this.epoch === startedAt) this.snapshots.set(this.sharedKey?.(key) ?? key, snapshot);
        return snapshot;
      }
      // the cluster changes faster than a snapshot can be read: the agent polls again shortly
      if (attempt >= 10) throw errors.unavailable(1);
    }
  }

  private async buildOnce(ref: ClusterRef, id: ClusterId, key: ClusterKey): Promise<Snapshot> {
    this.builds++;
    const version = await this.repo.markers.version(ref.subscriptionId, id);
    const cluster = await this.repo.clusters.get(ref.subscriptionId, id);
    if (!cluster) throw new ClusterGoneError(key);
    // not remembered in the LRU of parsed keys: a snapshot is built once per change, and the LRU serves ARM reads
    const agentKey = agentKeyOf(cluster.record, { remember: false });
    // never seal secrets to a key whose private half anyone with read access may have copied
    if (agentKey.compromised) throw errors.agentKeyCompromised();
    const all = await this.repo.configurations.all(ref.subscriptionId, id);
    const withSecrets = all.filter((v) => !v.deleted && hasSecrets(v.record)).map((v) => v.record.id);
    const secrets = await this.repo.secrets.getMany(ref.subscriptionId, withSecrets);
    // the snapshot must not outlive the secrets it carries: it is rebuilt the moment the first expires
    let expiresAt = NEVER;
    const configurations = await Promise.all(
      all.map(async (v) => {
        const stored = v.deleted ? undefined : secrets.get(keyOf(v.record.id));
        // never seal to the cluster secrets that are not this record's (a PUT that lost its race)
        const own = stored && secretsOf(v.record, stored.secrets) ? stored : undefined;
        // Key Vault references: only values read from the vault, with the versions they are; until the
        // service has read them the configuration is held back (never applied without its credentials)
        const resolved = !v.deleted && hasReferences(v.record) ? (own?.secrets.keyVault?.resolvedAt !== undefined ? own.secrets.keyVault.resolvedVersions : null) : undefined;
        if (resolved === null) return undefined;
        if (own?.expiresAt !== undefined) expiresAt = earlier(expiresAt, Math.max(0, own.expiresAt - this.origin));
        return agentView(v.record, v.deleted, own ? await sealTo(agentKey, own.secrets) : undefined, resolved);
      }),
    ).then((views) => views.filter((c): c is NonNullable<typeof c> => c !== undefined));
    // Flux v2 fluxConfigurations (issue #16): one more kind, in the same snapshot and version
    const flux = await this.repo.fluxConfigurations.all(ref.subscriptionId, id);
    const fluxWithSecrets = flux.filter((v) => !v.deleted && fluxHasSecrets(v.record)).map((v) => v.record.id);
    const fluxSecrets = fluxWithSecrets.length > 0 ? await this.repo.secrets.getMany(ref.subscriptionId, fluxWithSecrets) : new Map<string, { secrets: ConfigurationSecrets; expiresAt?: number }>();
    const fluxConfigurations = await Promise.all(
      flux.map(async (v) => {
        const stored = v.deleted ? undefined : fluxSecrets.get(keyOf(v.record.id));
        const own = stored && fluxSecretsOf(v.record, stored.secrets) ? stored : undefined;
        if (own?.expiresAt !== undefined) expiresAt = earlier(expiresAt, Math.max(0, own.expiresAt - this.origin));
        return agentFluxView(v.record, v.deleted, own ? await sealTo(agentKey, own.secrets) : undefined);
      }),
    );
    // the ETag covers what the agent acts on, not the JWE's randomness: version, key, and each item's generation
    const items = (list: { id: string; generation: number; deleted: boolean; protectedSettings?: string; secretVersions?: unknown }[]) =>
      list.map((c) => [c.id, c.generation, c.deleted, c.protectedSettings !== undefined, ...(c.secretVersions ? [c.secretVersions] : [])]);
    const digest = crypto
      .createHash("sha256")
      .update(JSON.stringify([version, agentKey.fingerprint, items(configurations), ...(fluxConfigurations.length > 0 ? [items(fluxConfigurations)] : [])]))
      .digest("base64url")
      .slice(0, 22);
    // absent when there are none: the body of a Flux v1 cluster is what it was before fluxConfigurations existed
    const body = fluxConfigurations.length > 0 ? { generation: version, configurations, fluxConfigurations } : { generation: version, configurations };
    // JSON.stringify of a base64url string is it in quotes, as one flat string
    const snapshot: Snapshot = { version, etag: JSON.stringify(digest), json: JSON.stringify(body), checkedAt: this.clock.now() - this.origin, expiresAt };
    return snapshot;
  }

  /** the body as sent: pollIntervalSeconds with ±20 % jitter, so a fleet back from an outage spreads out */
  body(snapshot: Snapshot): string {
    const base = this.options.pollIntervalSeconds;
    const jittered = Math.max(1, Math.round(base * (0.8 + Math.random() * 0.4)));
    return `{"pollIntervalSeconds":${jittered},${snapshot.json.slice(1)}`;
  }

  /**
   * Resolves when the cluster's desired state may have changed (a local change, or the marker check
   * every stalenessMs for other replicas), or after `ms`. Returns the newer snapshot, or undefined.
   */
  async waitForChange(ref: ClusterRef, etag: string, ms: number, signal: AbortSignal): Promise<Snapshot | undefined> {
    const key = clusterKeyOf(ref.id);
    // a long poll waits in real time, whatever the injected clock says
    const deadline = performance.now() + ms;
    while (!signal.aborted) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          off();
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(remaining, this.options.stalenessMs));
        const off = this.bus.on((change) => {
          if (change.clusterKey === key || change.clusterKey === EVERY_CLUSTER) done();
        });
        signal.addEventListener("abort", done);
      });
      if (signal.aborted) return undefined;
      const snapshot = await this.get(ref);
      if (snapshot.etag !== etag) return snapshot;
    }
    return undefined;
  }
}
