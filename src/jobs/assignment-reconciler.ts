/**
 * Carries configuration assignments to clusters, every `intervalMs` and whenever this process is told
 * there is work (wake):
 * 1. changed clusters (the outbox the cluster PUT and PATCH write): every assignment of the subscription is
 *    applied to each, so a cluster registered later, or whose tags changed, gets (or loses) its
 *    configurations;
 * 2. rollouts: an assignment whose generation differs from its status is applied to the clusters of
 *    its scope in key order, `batchSize` clusters at a time; the status records where it got to, so a
 *    restarted rollout resumes there; a deleting assignment goes once its rollout has removed
 *    everything it managed;
 * 3. compliance summaries of the subscriptions where something changed, at most every
 *    `complianceIntervalMs`.
 * Every step is idempotent (assignment-apply.ts writes only differences; status and outbox writes are
 * etag-conditional), and one replica at a time runs it (a lease); the API stays responsive because
 * the job yields to the event loop every few milliseconds.
 */
import { applyAssignment, storedClusterKey, type ApplyDeps, type ApplyOutcome } from "../domain/assignment-apply.js";
import { evaluateCompliancePage } from "../domain/assignments.js";
import type { ChangeBus } from "../domain/changes.js";
import type { Repository, Versioned } from "../domain/repository.js";
import type { AssignmentRecord, AssignmentStatus, ComplianceSummary } from "../domain/types.js";
import type { Clock } from "../ports/clock.js";
import { StorePreconditionFailedError, StoreConflictError, SYSTEM_PARTITION, type Store, type StoredDocument } from "../store/port.js";
import { Lease } from "./lease.js";

/**
 * The job works in slices of SLICE_MS, then lets waiting requests run: the embedded store answers
 * synchronously (an fsync blocks the event loop), so without yields a rollout would stall the API,
 * and yielding after every cluster would let a busy API starve the rollout (measured: 40 clusters/s
 * under 64 polling connections).
 */
const SLICE_MS = 10;

class Slicer {
  private since = performance.now();

  async maybeYield(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}

export interface ReconcilerOptions {
  intervalMs: number;
  batchSize: number;
  holder: string;
  leaseMs: number;
  complianceIntervalMs: number;
}

export interface ReconcileReport {
  ran: boolean;
  /** configurations written or removed, by outcome */
  outcomes: Record<ApplyOutcome, number>;
  /** applications that failed (logged; retried by the next rollout or outbox pass) */
  failures: number;
  clustersFromOutbox: number;
  rolloutsCompleted: number;
  assignmentsDeleted: number;
  summariesWritten: number;
}

/** test hook: called after each cluster a rollout batch applied; a throw there is a crash mid-batch */
export type AfterApplyHook = (clusterKey: string) => void | Promise<void>;

class HookFailure extends Error {
  constructor(cause: unknown) {
    super("afterApply hook failed", { cause });
  }
}

/** how long the Location of a finished deletion answers 200 */
const FINISHED_OPERATION_LIFETIME_MS = 86_400_000;

const MAX_RETRY_DELAY_MS = 600_000;

/** the back-off an outbox item carries after failures (a cluster PUT's touch resets it) */
function outboxRetry(body: Record<string, unknown>): { attempts: number; at: number } {
  return { attempts: typeof body.attempts === "number" ? body.attempts : 0, at: typeof body.retryAt === "number" ? body.retryAt : 0 };
}

const lostRace = (err: unknown): boolean => err instanceof StorePreconditionFailedError || err instanceof StoreConflictError;

export class AssignmentReconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<ReconcileReport>;
  private again = false;
  private readonly lease: Lease;
  /** subscriptions whose compliance summaries may be out of date */
  private readonly dirty = new Set<string>();
  private nextComplianceAt = Number.NEGATIVE_INFINITY;
  private changesSeenUntil = 0;
  afterApply?: AfterApplyHook;
  private readonly deps: ApplyDeps;
  private readonly slicer = new Slicer();

  constructor(
    private readonly store: Store,
    private readonly repo: Repository,
    bus: ChangeBus,
    private readonly clock: Clock,
    private readonly options: ReconcilerOptions,
    private readonly log: (message: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {
    this.lease = new Lease(store, clock, "assignment-reconciler", options.holder, options.leaseMs);
    this.deps = { repo, bus, clock };
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.intervalMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.again = false;
    await this.running?.catch(() => undefined);
  }

  /**
   * Run soon, once started (before start() nothing runs by itself: tests drive runOnce/settle); a
   * wake during a pass runs one more pass after it (nothing is missed, nothing piles up).
   */
  wake(): void {
    if (this.timer === undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.runOnce().catch((err: unknown) => this.log("assignment reconciliation failed", { err }));
  }

  /** one pass; overlapping calls share the pass in progress */
  runOnce(): Promise<ReconcileReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
    return this.running;
  }

  /**
   * Passes until nothing is left to do (tests): when another replica holds the lease, waits for it
   * to finish the work instead.
   */
  async settle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const report = await this.runOnce();
      const wrote = Object.values(report.outcomes).some((n) => n > 0) || report.rolloutsCompleted + report.assignmentsDeleted + report.clustersFromOutbox > 0;
      if (!wrote && !(await this.pending())) return;
      if (!report.ran) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("assignment reconciliation did not settle");
  }

  private async pass(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      ran: false,
      outcomes: { created: 0, updated: 0, removed: 0, unchanged: 0, clash: 0, stale: 0 },
      failures: 0,
      clustersFromOutbox: 0,
      rolloutsCompleted: 0,
      assignmentsDeleted: 0,
      summariesWritten: 0,
    };
    if (!(await this.lease.keep())) return report;
    report.ran = true;
    // rollouts advance one batch per assignment per round, the outbox is drained between rounds:
    // a cluster registering during a long rollout still gets its configurations at once. Every batch
    // checks the lease first (renewing it once a third has passed); a replica that lost it stops where it is.
    for (;;) {
      if (!(await this.drainOutbox(report))) return report;
      let more = false;
      for (const assignment of await this.allAssignments()) {
        if (!(await this.lease.keep())) return report;
        if ((await this.rolloutBatch(assignment, report)) === "more") more = true;
      }
      if (!more) break;
    }
    // after the rollouts, not between their batches: a summary walks the whole scope, and a 10,000-cluster
    // rollout interrupted by walks every interval took several times as long (measured)
    await this.refreshCompliance(report);
    return report;
  }

  /** whether any rollout or outbox item is waiting (for settle) */
  private async pending(): Promise<boolean> {
    const now = this.clock.now();
    let continuation: string | undefined;
    do {
      const page = await this.store.scan({ kind: "clusterWork" }, { limit: 200, continuation });
      if (page.items.some((item) => outboxRetry(item.body).at <= now)) return true;
      continuation = page.continuation;
    } while (continuation !== undefined);
    for (const a of await this.allAssignments()) {
      const status = await this.repo.getAssignmentStatus(a.record.subscriptionId, a.record.id);
      if (!status || status.record.generation !== a.record.generation || status.record.state !== "Completed" || a.record.deletion) return true;
    }
    return false;
  }

  /** every assignment, or those of one subscription; an unreadable one is logged and left out, not fatal */
  private async allAssignments(subscriptionId?: string): Promise<Versioned<AssignmentRecord>[]> {
    return (await this.readAssignments(subscriptionId)).items;
  }

  /** the same, saying whether any was left out (`complete`) */
  private async readAssignments(subscriptionId?: string): Promise<{ items: Versioned<AssignmentRecord>[]; complete: boolean }> {
    const items: Versioned<AssignmentRecord>[] = [];
    let complete = true;
    let continuation: string | undefined;
    do {
      const page =
        subscriptionId === undefined
          ? await this.store.scan({ kind: "assignment" }, { limit: 200, continuation })
          : await this.store.list({ kind: "assignment", partition: subscriptionId.toLowerCase() }, { limit: 200, continuation });
      for (const doc of page.items) {
        try {
          items.push(await this.repo.decodeAssignment(doc));
        } catch (err) {
          complete = false;
          this.log("could not read a configuration assignment", { resourceId: doc.key, err });
        }
      }
      continuation = page.continuation;
    } while (continuation !== undefined);
    return { items, complete };
  }

  /**
   * One assignment on one cluster, for both the outbox and rollouts. A failure (an unreadable record,
   * a configuration fought over past the retries) is logged and counted, never fatal to the others; a
   * removal may free the name for another assignment of the subscription: the cluster goes back to
   * the outbox so that one gets its turn.
   */
  private async apply(a: Versioned<AssignmentRecord>, clusterId: string, report: ReconcileReport, siblings: () => Promise<Versioned<AssignmentRecord>[]>): Promise<ApplyOutcome | "failed"> {
    // the generation, not the etag: a PUT that changed nothing rewrites the record but asks for nothing new
    const stillCurrent = async () => {
      const now = (await this.repo.getAssignment(a.record.subscriptionId, a.record.id))?.record;
      return now !== undefined && now.generation === a.record.generation && now.deletion?.operationId === a.record.deletion?.operationId;
    };
    try {
      const outcome = await applyAssignment(this.deps, a.record, storedClusterKey(clusterId), stillCurrent);
      report.outcomes[outcome]++;
      if (outcome === "removed") {
        const name = a.record.spec.configurationName.toLowerCase();
        if ((await siblings()).some((o) => o.record.id !== a.record.id && o.record.spec.configurationName.toLowerCase() === name)) {
          await this.repo.touchClusterWork(a.record.subscriptionId, clusterId);
        }
      }
      return outcome;
    } catch (err) {
      report.failures++;
      this.log("could not apply a configuration assignment to a cluster", { resourceId: a.record.id, clusterId, err });
      return "failed";
    }
  }

  /** the subscription's assignments, read once per batch and only if asked */
  private lazyAssignments(subscriptionId: string): () => Promise<Versioned<AssignmentRecord>[]> {
    let loaded: Promise<Versioned<AssignmentRecord>[]> | undefined;
    return () => (loaded ??= this.allAssignments(subscriptionId));
  }

  // 1. the outbox of changed clusters ----------------------------------------------------------

  /** false when the lease was lost */
  private async drainOutbox(report: ReconcileReport): Promise<boolean> {
    const bySubscription = new Map<string, { items: Versioned<AssignmentRecord>[]; complete: boolean }>();
    let continuation: string | undefined;
    do {
      // paged, not always the first page: an item that keeps failing cannot hold up the ones behind it
      const page = await this.store.scan({ kind: "clusterWork" }, { limit: this.options.batchSize, continuation });
      for (const item of page.items) {
        const retry = outboxRetry(item.body);
        if (retry.at > this.clock.now()) continue; // backing off after failures
        let read = bySubscription.get(item.partition);
        if (!read) {
          read = await this.readAssignments(item.partition);
          bySubscription.set(item.partition, read);
        }
        const assignments = read.items;
        const before = await this.store.get("cluster", item.key, item.partition);
        const outcomes: Array<ApplyOutcome | "failed"> = [];
        for (const a of assignments) outcomes.push(await this.apply(a, item.key, report, async () => assignments));
        if (outcomes.includes("stale")) bySubscription.delete(item.partition); // an assignment changed: read them again
        const after = await this.store.get("cluster", item.key, item.partition);
        if (outcomes.includes("failed") || !read.complete) await this.backOff(item, retry.attempts + 1);
        // retired only when every assignment was applied with its current version, the cluster did not change
        // meanwhile, and the item was not touched since it was read (retirement is by etag)
        else if (!outcomes.includes("stale") && before?.etag === after?.etag) await this.repo.retireClusterWork(item);
        report.clustersFromOutbox++;
        this.dirty.add(item.partition);
        await this.slicer.maybeYield();
      }
      continuation = page.continuation;
      if (!(await this.lease.keep())) return false;
    } while (continuation !== undefined);
    return true;
  }

  /** an item that failed waits 2, 4, 8 … seconds (at most 10 minutes); logged at 1, 2, 4, 8 … attempts */
  private async backOff(item: StoredDocument, attempts: number): Promise<void> {
    const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(attempts, 20));
    if ((attempts & (attempts - 1)) === 0) this.log("cluster left in the assignment outbox after a failure", { clusterId: item.key, attempts, retryInMs: delay });
    await this.repo.deferClusterWork(item, attempts, this.clock.now() + delay);
  }

  // 2. rollouts --------------------------------------------------------------------------------

  private async countClusters(a: AssignmentRecord): Promise<number> {
    let total = 0;
    let continuation: string | undefined;
    do {
      const page = await this.repo.listClusterDocuments(a.subscriptionId, a.resourceGroup, 1000, continuation);
      total += page.items.length;
      continuation = page.continuation;
    } while (continuation !== undefined);
    return total;
  }

  /** the status of the assignment's current generation: a new generation starts a new rollout */
  private async currentStatus(a: AssignmentRecord): Promise<Versioned<AssignmentStatus>> {
    const status = await this.repo.getAssignmentStatus(a.subscriptionId, a.id);
    if (status && status.record.generation === a.generation) return status;
    const fresh: AssignmentStatus = {
      generation: a.generation,
      state: "InProgress",
      clustersProcessed: 0,
      clustersFailed: 0,
      clustersTotal: await this.countClusters(a),
      startedAt: new Date(this.clock.now()).toISOString(),
      ...(status?.record.complianceSummary ? { complianceSummary: status.record.complianceSummary } : {}),
    };
    return this.repo.writeAssignmentStatus(a.subscriptionId, a.id, fresh, status?.etag);
  }

  private async rolloutBatch(listed: Versioned<AssignmentRecord>, report: ReconcileReport): Promise<"more" | "done"> {
    // fresh: a PUT since the scan restarts the rollout with the new generation
    const found = await this.repo.getAssignment(listed.record.subscriptionId, listed.record.id);
    if (!found) return "done";
    const a = found.record;
    try {
      const status = await this.currentStatus(a);
      if (status.record.state === "Completed") return (await this.finishDeletion(found, report)) ? "more" : "done";
      const page = await this.repo.listClusterDocuments(a.subscriptionId, a.resourceGroup, this.options.batchSize, status.record.cursor);
      let failed = 0;
      const siblings = this.lazyAssignments(a.subscriptionId);
      for (const doc of page.items) {
        const outcome = await this.apply(found, doc.key, report, siblings);
        // the outbox tries a failed cluster again later, with back-off
        if (outcome === "failed") await this.repo.touchClusterWork(a.subscriptionId, doc.key).catch(() => undefined);
        // the assignment changed under this batch: nothing more is written with the old one, the next round re-reads it
        if (outcome === "stale") return "more";
        if (outcome === "failed") failed++;
        try {
          await this.afterApply?.(doc.key);
        } catch (err) {
          throw new HookFailure(err);
        }
        await this.slicer.maybeYield();
      }
      const processed = status.record.clustersProcessed + page.items.length;
      const done = page.continuation === undefined;
      const next: AssignmentStatus = {
        ...status.record,
        clustersProcessed: processed,
        clustersFailed: (status.record.clustersFailed ?? 0) + failed,
        // clusters registered during the rollout count too (the outbox handled them as well)
        clustersTotal: Math.max(status.record.clustersTotal, processed),
        state: done ? "Completed" : "InProgress",
      };
      if (done) {
        delete next.cursor;
        next.completedAt = new Date(this.clock.now()).toISOString();
      } else next.cursor = page.continuation;
      await this.repo.writeAssignmentStatus(a.subscriptionId, a.id, next, status.etag);
      this.dirty.add(a.subscriptionId.toLowerCase());
      if (done) {
        report.rolloutsCompleted++;
        this.log("assignment rollout completed", { resourceId: a.id, generation: a.generation, clusters: processed, failed: next.clustersFailed });
      }
      return "more";
    } catch (err) {
      // another replica moved the status or the assignment first: the next round reads the new state
      if (lostRace(err)) return "more";
      if (err instanceof HookFailure) throw err.cause; // a test's simulated crash: nothing may absorb it
      report.failures++;
      this.log("assignment rollout batch failed", { resourceId: a.id, err });
      return "done";
    }
  }

  /** a deleting assignment whose rollout removed everything it managed goes, with its status */
  private async finishDeletion(found: Versioned<AssignmentRecord>, report: ReconcileReport): Promise<boolean> {
    const deletion = found.record.deletion;
    if (!deletion) return false;
    // the Location a client polls answers 200 for a day after, then 404 like any unknown operation
    await this.repo.recordFinishedOperation(found.record.subscriptionId, deletion.operationId, found.record.id, this.clock.now() + FINISHED_OPERATION_LIFETIME_MS);
    if (await this.repo.deleteAssignment(found.record, found.etag)) {
      report.assignmentsDeleted++;
      this.log("configuration assignment deleted", { resourceId: found.record.id });
    }
    return true;
  }

  // 3. compliance summaries --------------------------------------------------------------------

  /** subscriptions where a configuration, an assignment or a desired-state marker changed */
  private async changedSubscriptions(): Promise<Set<string> | "all"> {
    const since = this.changesSeenUntil;
    const now = this.clock.now();
    if (since === 0) {
      this.changesSeenUntil = now;
      return "all";
    }
    // overlap: a write stamped by another replica's clock a little in the past is not missed
    const changes = await this.store.changedSince({ kinds: ["configuration", "assignment", "system"], since: since - 2000, limit: 1000 });
    this.changesSeenUntil = now;
    if (changes.truncated) return "all";
    return new Set(changes.items.map((c) => c.partition).filter((p) => p !== SYSTEM_PARTITION));
  }

  /**
   * Due every complianceIntervalMs, and never more than a tenth of the time: a walk that took w ms is
   * followed by at least 9w ms without one, however large the fleet.
   */
  private async refreshCompliance(report: ReconcileReport): Promise<void> {
    const started = this.clock.now();
    if (started < this.nextComplianceAt) return;
    const changed = await this.changedSubscriptions();
    for (const a of await this.allAssignments()) {
      const partition = a.record.subscriptionId.toLowerCase();
      if (a.record.deletion || (changed !== "all" && !changed.has(partition) && !this.dirty.has(partition))) continue;
      try {
        if (await this.writeSummary(a.record)) report.summariesWritten++;
      } catch (err) {
        report.failures++;
        this.log("could not compute a compliance summary", { resourceId: a.record.id, err });
      }
    }
    this.dirty.clear();
    const took = this.clock.now() - started;
    this.nextComplianceAt = this.clock.now() + Math.max(this.options.complianceIntervalMs - took, 9 * took);
  }

  /** walks the scope, counts matching clusters by state, keeps the counts in the status */
  async writeSummary(a: AssignmentRecord): Promise<boolean> {
    const summary: ComplianceSummary = { totalClusters: 0, compliant: 0, pending: 0, nonCompliant: 0, failed: 0, evaluatedAt: new Date(this.clock.now()).toISOString() };
    let continuation: string | undefined;
    do {
      const page = await evaluateCompliancePage(this.repo, a, this.options.batchSize, continuation);
      for (const r of page.items) {
        summary.totalClusters++;
        if (r.complianceState === "Compliant") summary.compliant++;
        else if (r.complianceState === "Pending") summary.pending++;
        else if (r.complianceState === "NonCompliant") summary.nonCompliant++;
        else summary.failed++;
      }
      continuation = page.continuation;
      await this.slicer.maybeYield();
    } while (continuation !== undefined);
    const status = await this.repo.getAssignmentStatus(a.subscriptionId, a.id);
    if (!status) return false; // the rollout writes the first status; the next refresh fills it in
    try {
      await this.repo.writeAssignmentStatus(a.subscriptionId, a.id, { ...status.record, complianceSummary: summary }, status.etag);
      return true;
    } catch (err) {
      if (lostRace(err)) return false;
      throw err;
    }
  }

  /** recompute every summary now (tests: after agents report, without waiting for the interval) */
  async refreshAllSummaries(): Promise<void> {
    for (const a of await this.allAssignments()) if (!a.record.deletion) await this.writeSummary(a.record);
  }
}
