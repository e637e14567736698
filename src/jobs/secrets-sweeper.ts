/**
 * The third layer of the 48-hour promise: a sweeper that deletes expired protected settings and
 * known_hosts, and destroys their keys (crypto-shredding), every `intervalMs`.
 * - Layer one is every read path ignoring expired documents; layer two is Cosmos DB's per-item ttl.
 * - Batched: a page of expired secrets documents is grouped by partition, and each group (at most
 *   MAX_UNIT_WRITES writes) is purged in ONE commit (a SQLite transaction, a Cosmos DB transactional
 *   batch): every document's key shredded and the document deleted by etag, the configurations whose
 *   secrets expired undelivered marked Failed, and one marker increment per cluster.
 * - A lost race in a group (a re-PUT, a status report, another replica) fails its commit as a whole;
 *   the group is then purged one document at a time on fresh reads, and a document replaced meanwhile
 *   is left alone (its new secrets are not ours to purge).
 * - Idempotent and resumable: a commit is all or nothing, and what was purged no longer matches the
 *   next page; a rerun after a crash, or a second replica, finds the work done and counts nothing twice.
 * - One replica at a time (a lease in the store, checked by the PeriodicJob before each sweep and
 *   kept between pages); the sweep yields to the event loop every few milliseconds (slicing.ts) so
 *   the API stays responsive while the embedded store's synchronous commits run.
 */
import { valueKinds } from "../domain/agent-reports.js";
import { announce, storedClusterKey, type ChangeBus } from "../domain/changes.js";
import { expiredBeforeDelivery, hasReferences } from "../domain/configurations.js";
import { fluxExpiredBeforeDelivery, fluxUndelivered } from "../domain/flux-configurations.js";
import type { PurgeAudit } from "../domain/purge-audit.js";
import type { ConfigurationRecord, FluxConfigurationRecord } from "../domain/types.js";
import { byPartition, MAX_UNIT_WRITES, type Persistence, type Versioned } from "../persistence/index.js";
import type { Clock } from "../ports/clock.js";
import { lostRace, PATCH_ATTEMPTS, type StoredDocument } from "../persistence/collection.js";
import { SLICE_MS } from "./assignments/slicing.js";
import { Lease } from "./lease.js";
import { PeriodicJob } from "./periodic-job.js";

export interface SweeperOptions {
  intervalMs: number;
  /** expired documents read per page (each page is then purged in commits of at most MAX_UNIT_WRITES writes) */
  batchSize: number;
  holder: string;
  leaseMs: number;
}

export interface SweepReport {
  ran: boolean;
  purged: number;
  keysDestroyed: number;
}

/** one expired secrets document and its configuration as read before the commit (absent: none, or unreadable) */
interface Expired {
  doc: StoredDocument;
  configuration?: Versioned<ConfigurationRecord>;
  /** the Flux v2 fluxConfiguration the secrets belong to (issue #16: the same secrets documents, keyed by its id) */
  flux?: Versioned<FluxConfigurationRecord>;
}

/** a secrets document of a Flux v2 fluxConfiguration (its key is the fluxConfiguration's lower-cased id) */
const FLUX_SEGMENT = "/providers/microsoft.kubernetesconfiguration/fluxconfigurations/";
const isFluxSecrets = (doc: StoredDocument): boolean => doc.key.includes(FLUX_SEGMENT);

/** the record a purge marks Failed (one write), if any */
const marksFailed = (one: Expired): boolean => undelivered(one.configuration) || fluxUndelivered(one.flux);

/** secrets expired before this generation reached the cluster: the user is told; a cluster that got them is left alone */
const undelivered = (found: Versioned<ConfigurationRecord> | undefined): found is Versioned<ConfigurationRecord> =>
  found !== undefined &&
  !found.deleted &&
  found.record.secretsDelivered?.generation !== found.record.generation &&
  found.record.complianceStatus.complianceState !== "Failed" &&
  // a copy read from Key Vault is read again by the resolver: its expiry is no failure of the user's
  !hasReferences(found.record);

/** purge commits sent together (see sweep): a wave's transaction stays short enough for the API's p99 */
const COMMITS_AT_ONCE = 2;

/**
 * The chunks in waves of at most `size`, in order, no two chunks of a wave touching one cluster: their
 * marker increments would race where the engine reads a counter to bump it (the Cosmos DB fallback).
 */
export function waves<T extends { doc: { parent: string } }>(chunks: T[][], size: number): T[][][] {
  const out: T[][][] = [];
  let wave: T[][] = [];
  let clusters = new Set<string>();
  for (const chunk of chunks) {
    const touched = chunk.map((one) => one.doc.parent);
    if (wave.length >= size || touched.some((c) => clusters.has(c))) {
      out.push(wave);
      wave = [];
      clusters = new Set();
    }
    wave.push(chunk);
    for (const c of touched) clusters.add(c);
  }
  if (wave.length > 0) out.push(wave);
  return out;
}

export class SecretsSweeper {
  private readonly lease: Lease;
  private readonly job: PeriodicJob<SweepReport>;

  constructor(
    private readonly repo: Persistence,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    private readonly audit: PurgeAudit,
    private readonly options: SweeperOptions,
    private readonly log: (message: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {
    this.lease = new Lease(repo.leases, clock, "secrets-sweeper", options.holder, options.leaseMs);
    this.job = new PeriodicJob({
      intervalMs: options.intervalMs,
      run: () => this.sweep(),
      onError: (err) => this.log("secrets sweep failed", { err }),
      runAtStart: false,
      lease: { lease: this.lease, skipped: () => ({ ran: false, purged: 0, keysDestroyed: 0 }) },
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** one sweep; overlapping calls share the sweep in progress */
  runOnce(): Promise<SweepReport> {
    return this.job.runOnce();
  }

  /** runs while this replica holds the lease (the job checked it) */
  private async sweep(): Promise<SweepReport> {
    const report: SweepReport = { ran: true, purged: 0, keysDestroyed: 0 };
    const started = this.clock.now();
    // the embedded store answers synchronously (a commit blocks the loop): API requests get their turn every slice
    const slicer = new YieldingSlicer();
    for (;;) {
      // always the first page: what was purged no longer matches, so this drains without a cursor
      const expired = await this.repo.secrets.expired(this.options.batchSize);
      const more = expired.length === this.options.batchSize;
      const chunks: Expired[][][] = [];
      for (const group of byPartition(expired)) chunks.push(commits(await this.withConfigurations(group)));
      // a partition's last commit is seldom full: while more pages follow, it waits for the next page
      // (which reads it again first, being older) unless that would leave this page with nothing to do
      const defer = more && chunks.some((group) => group.length > 1);
      let purged = 0;
      const ready = chunks.flatMap((group) => (defer ? group.slice(0, -1) : group));
      // a few commits at once: the embedded store folds the ones that arrive together into one transaction
      // (group commit, one fsync), Cosmos DB runs their batches side by side; then the API gets its turn
      for (const wave of waves(ready, COMMITS_AT_ONCE)) {
        purged += (await Promise.all(wave.map((chunk) => this.purgeTogether(chunk)))).reduce((a, b) => a + b, 0);
        await slicer.maybeYield();
      }
      report.purged += purged;
      // a full page none of which could be purged would come back as it is: the next sweep tries again
      if (!more || purged === 0 || !(await this.lease.keep())) break;
    }
    // keys whose secrets went another way (replaced after expiry, a crash of an older version between steps): shred them too
    for (;;) {
      const keys = await this.repo.secrets.expiredKeys(this.options.batchSize);
      for (const doc of keys) {
        if (await this.repo.secrets.destroyExpiredKey(doc)) report.keysDestroyed++;
        await slicer.maybeYield();
      }
      if (keys.length < this.options.batchSize || !(await this.lease.keep())) break;
    }
    if (report.purged > 0 || report.keysDestroyed > 0) {
      await this.repo.secrets.compact();
      this.log("secrets sweep", { ...report, ms: this.clock.now() - started });
    }
    return report;
  }

  /** the configurations of one partition's expired secrets, in one read (one at a time if that fails) */
  private async withConfigurations(group: StoredDocument[]): Promise<Expired[]> {
    const partition = (group[0] as StoredDocument).partition;
    let found: Map<string, Versioned<ConfigurationRecord>> | undefined;
    let foundFlux: Map<string, Versioned<FluxConfigurationRecord>> | undefined;
    const v1 = group.filter((doc) => !isFluxSecrets(doc));
    const v2 = group.filter(isFluxSecrets);
    try {
      found = v1.length > 0 ? await this.repo.configurations.getMany(partition, v1.map((doc) => doc.key)) : new Map();
      foundFlux = v2.length > 0 ? await this.repo.fluxConfigurations.getMany(partition, v2.map((doc) => doc.key)) : new Map();
    } catch {
      // one unreadable record (key provider down, integrity failure) must not stop the purge of the others
      found = undefined;
      foundFlux = undefined;
    }
    return Promise.all(group.map(async (doc) => ({ doc, ...(await this.configurationOf(doc, found, foundFlux)) })));
  }

  private async configurationOf(
    doc: StoredDocument,
    found?: Map<string, Versioned<ConfigurationRecord>>,
    foundFlux?: Map<string, Versioned<FluxConfigurationRecord>>,
  ): Promise<{ configuration?: Versioned<ConfigurationRecord>; flux?: Versioned<FluxConfigurationRecord> }> {
    if (isFluxSecrets(doc)) {
      if (foundFlux) {
        const flux = foundFlux.get(doc.key);
        return flux ? { flux } : {};
      }
      try {
        const flux = await this.repo.fluxConfigurations.get(doc.partition, doc.key);
        return flux ? { flux } : {};
      } catch (err) {
        this.log("could not mark a fluxConfiguration whose secrets expired", { resourceId: doc.key, err });
        return {};
      }
    }
    if (found) {
      const configuration = found.get(doc.key);
      return configuration ? { configuration } : {};
    }
    try {
      const configuration = await this.repo.configurations.get(doc.partition, doc.key);
      return configuration ? { configuration } : {};
    } catch (err) {
      this.log("could not mark a configuration whose secrets expired", { resourceId: doc.key, err });
      return {};
    }
  }

  /**
   * One commit for the chunk (one partition); on a lost race anywhere in it, one document at a time.
   * Returns how many were purged.
   */
  private async purgeTogether(chunk: Expired[]): Promise<number> {
    if (chunk.length === 1) return (await this.purgeAlone(chunk[0] as Expired)) ? 1 : 0;
    try {
      await this.repo.atomically(() => this.stage(chunk));
    } catch (err) {
      if (!lostRace(err)) throw err;
      // a re-PUT, a status report or another replica moved one of them: each alone, on fresh reads
      let purged = 0;
      for (const one of chunk) if (await this.purgeAlone(one)) purged++;
      return purged;
    }
    for (const one of chunk) this.audited(one);
    return chunk.length;
  }

  /**
   * One document in a commit of its own. A lost race on the secrets themselves (replaced or deleted
   * meanwhile) means they are not ours to purge; one on the configuration (a status report) or the
   * marker is read again, a few times at most.
   */
  private async purgeAlone(first: Expired): Promise<boolean> {
    let one = first;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.repo.atomically(() => this.stage([one]));
        this.audited(one);
        return true;
      } catch (err) {
        if (!lostRace(err) || this.repo.secrets.secretsMoved(err)) {
          if (lostRace(err)) return false;
          throw err;
        }
        if (attempt >= PATCH_ATTEMPTS) return false;
        one = { doc: one.doc, ...(await this.configurationOf(one.doc)) };
      }
    }
  }

  /** the writes of a chunk, staged in the caller's unit of work: they commit together or not at all */
  private async stage(chunk: Expired[]): Promise<void> {
    const clusters = new Map<string, string>();
    for (const { doc, configuration, flux } of chunk) {
      // the key and the secrets by etag, in the same commit
      await this.repo.secrets.purgeExpired(doc);
      if (undelivered(configuration)) {
        await this.repo.configurations.write(doc.partition, { ...configuration.record, complianceStatus: expiredBeforeDelivery(), provisioningState: "Failed" }, configuration.etag);
      }
      if (fluxUndelivered(flux)) await this.repo.fluxConfigurations.write(doc.partition, fluxExpiredBeforeDelivery(flux.record), flux.etag);
      // a secrets document's parent is its cluster's store key
      clusters.set(doc.parent, doc.partition);
    }
    // one marker increment per cluster per commit, however many of its configurations were purged
    for (const [cluster, partition] of clusters) await announce(this.repo, this.bus, partition, storedClusterKey(cluster), "configurations");
  }

  /** after the commit: one audit line per purged document (its id and value kinds, never a value) */
  private audited({ doc, configuration, flux }: Expired): void {
    const kinds = configuration ? valueKinds(configuration.record) : flux ? [...flux.record.secrets.protectedSettingKeys, ...(flux.record.secrets.hasKnownHosts ? ["sshKnownHosts"] : [])] : [];
    this.audit.purged(doc.key, kinds, "expired");
  }
}

/**
 * The sweep works in slices of SLICE_MS (slicing.ts), then lets waiting requests run. One turn of the
 * loop (setImmediate) is not enough for them: a request over TLS takes several turns (read, auth,
 * store, write), so a sweep taking a slice between each turn multiplied GET p99 by 8 (bench:purge).
 * So it yields again and again while the loop still finds work, at most MAX_YIELD_MS before the next
 * slice: a quiet API costs the sweep one turn (microseconds), a busy one keeps its latency.
 */
class YieldingSlicer {
  private since = performance.now();

  async maybeYield(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    const started = performance.now();
    for (;;) {
      const turn = performance.now();
      await new Promise((resolve) => setImmediate(resolve));
      const now = performance.now();
      if (now - turn < QUIET_TURN_MS || now - started >= MAX_YIELD_MS) break;
    }
    this.since = performance.now();
  }
}

/** a turn of the event loop this short found nothing waiting */
const QUIET_TURN_MS = 0.25;
/** the most a sweep waits for the API before its next slice (so a saturated API cannot stop the purge) */
const MAX_YIELD_MS = 4 * SLICE_MS;

/** expired documents by partition (a commit holds one partition's writes), in the order they came */
/**
 * One partition's purges cut into commits of at most MAX_UNIT_WRITES writes: each purge writes its key
 * and its secrets (2), its configuration when it must be marked Failed (1), and the first purge of a
 * cluster in a commit its marker (1).
 */
function commits(group: Expired[]): Expired[][] {
  const out: Expired[][] = [];
  let chunk: Expired[] = [];
  let clusters = new Set<string>();
  let writes = 0;
  for (const one of group) {
    const configuration = marksFailed(one) ? 1 : 0;
    let cost = 2 + configuration + (clusters.has(one.doc.parent) ? 0 : 1);
    if (writes + cost > MAX_UNIT_WRITES && chunk.length > 0) {
      out.push(chunk);
      chunk = [];
      clusters = new Set();
      writes = 0;
      cost = 3 + configuration;
    }
    chunk.push(one);
    clusters.add(one.doc.parent);
    writes += cost;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}
