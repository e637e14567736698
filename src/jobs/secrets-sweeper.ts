/**
 * The third layer of the 48-hour promise: a sweeper that deletes expired protected settings and
 * known_hosts, and destroys their keys (crypto-shredding), every `intervalMs`.
 * - Layer one is every read path ignoring expired documents; layer two is Cosmos DB's per-item ttl.
 * - Idempotent and resumable: each document's key is destroyed, then the document deleted by etag; a
 *   rerun after a crash, or a second replica, finds the work done and counts nothing twice.
 * - One replica at a time (a lease in the store, checked by the PeriodicJob before each sweep and
 *   kept between batches); batches are bounded so the API stays responsive.
 * - A configuration whose secrets expired before the cluster acknowledged them is marked Failed.
 */
import { valueKinds } from "../domain/agent-reports.js";
import { announce, storedClusterKey, type ChangeBus } from "../domain/changes.js";
import { expiredBeforeDelivery } from "../domain/configurations.js";
import type { PurgeAudit } from "../domain/purge-audit.js";
import type { Persistence } from "../persistence/index.js";
import type { Clock } from "../ports/clock.js";
import { lostRace, type StoredDocument } from "../persistence/collection.js";
import { Lease } from "./lease.js";
import { PeriodicJob } from "./periodic-job.js";

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface SweeperOptions {
  intervalMs: number;
  batchSize: number;
  holder: string;
  leaseMs: number;
}

export interface SweepReport {
  ran: boolean;
  purged: number;
  keysDestroyed: number;
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
    for (;;) {
      // always the first page: what was purged no longer matches, so this drains without a cursor
      const expired = await this.repo.secrets.expired(this.options.batchSize);
      for (const doc of expired) {
        if (await this.purge(doc)) report.purged++;
        // the embedded store answers synchronously: yield so API requests interleave with a long sweep
        await yieldToEventLoop();
      }
      if (expired.length < this.options.batchSize || !(await this.lease.keep())) break;
    }
    // keys whose secrets went another way (replaced after expiry, crash between steps): shred them too
    for (;;) {
      const keys = await this.repo.secrets.expiredKeys(this.options.batchSize);
      for (const doc of keys) if (await this.repo.secrets.destroyExpiredKey(doc)) report.keysDestroyed++;
      if (keys.length < this.options.batchSize || !(await this.lease.keep())) break;
    }
    if (report.purged > 0 || report.keysDestroyed > 0) {
      await this.repo.secrets.compact();
      this.log("secrets sweep", { ...report, ms: this.clock.now() - started });
    }
    return report;
  }

  private async purge(doc: StoredDocument): Promise<boolean> {
    // shredding first: it needs no key provider and no readable record, so nothing can hold it up
    if (!(await this.repo.secrets.purgeExpired(doc))) return false;
    let kinds: string[] = [];
    try {
      const configuration = await this.repo.configurations.get(doc.partition, doc.key);
      if (configuration) kinds = valueKinds(configuration.record);
      if (configuration && !configuration.deleted) await this.markUndelivered(doc.partition, configuration);
    } catch (err) {
      // an unreadable record (key provider down, integrity failure) must not stop the purge of others
      this.log("could not mark a configuration whose secrets expired", { resourceId: doc.key, err });
    }
    this.audit.purged(doc.key, kinds, "expired");
    // a secrets document's parent is its cluster's store key
    await announce(this.repo, this.bus, doc.partition, storedClusterKey(doc.parent), "configurations");
    return true;
  }

  /** the user sees why the cluster never got its secrets, and what to do; a cluster that got them is left alone */
  private async markUndelivered(partition: string, found: NonNullable<Awaited<ReturnType<Persistence["configurations"]["get"]>>>): Promise<void> {
    const record = found.record;
    if (record.secretsDelivered?.generation === record.generation || record.complianceStatus.complianceState === "Failed") return;
    try {
      await this.repo.configurations.write(partition, { ...record, complianceStatus: expiredBeforeDelivery(), provisioningState: "Failed" }, found.etag);
    } catch (err) {
      // a PUT got there first: it brought new secrets and its own state
      if (!lostRace(err)) throw err;
    }
  }
}
