/**
 * Carries configuration assignments to clusters, every `intervalMs` and whenever this process is told
 * there is work (wake). A pass, while this replica holds the lease:
 * 1. the outbox of changed clusters (outbox.ts);
 * 2. rollouts, one batch per assignment per round (rollout.ts);
 * 3. compliance summaries of the subscriptions where something changed (compliance.ts).
 * Every step is idempotent (assignment-apply.ts writes only differences; status and outbox writes are
 * etag-conditional); the API stays responsive because the pass yields to the event loop every few
 * milliseconds (slicing.ts).
 */
import type { ApplyDeps } from "../../domain/assignment-apply.js";
import type { ChangeBus } from "../../domain/changes.js";
import { MAX_UNIT_WRITES, type Persistence } from "../../persistence/index.js";
import type { Clock } from "../../ports/clock.js";
import { Lease } from "../lease.js";
import { PeriodicJob } from "../periodic-job.js";
import { ComplianceSummaries, writeSummary } from "./compliance.js";
import { allAssignments, emptyReport, type AppliedObserver, type Log, type PassContext, type ReconcileReport } from "./context.js";
import { drainOutbox } from "./outbox.js";
import { rolloutBatch } from "./rollout.js";
import { Slicer } from "./slicing.js";

export type { ReconcileReport } from "./context.js";

/** a configuration and its desired-state marker per cluster: as many clusters as one commit holds */
const CLUSTERS_PER_COMMIT = Math.floor(MAX_UNIT_WRITES / 2);

const DEFAULT_GATE_INTERVAL_MS = 5000;

export interface ReconcilerOptions {
  intervalMs: number;
  batchSize: number;
  holder: string;
  leaseMs: number;
  complianceIntervalMs: number;
  /**
   * Clusters of a rollout batch read in bulk and written in one durable commit (default: as many as
   * one commit holds, MAX_UNIT_WRITES / 2 - a configuration and its marker each). Tests set 1 to act
   * between two clusters of a batch.
   */
  clustersPerCommit?: number;
  /**
   * Observer of rollout progress: called after each cluster a rollout batch applied, before the next.
   * What it throws is not absorbed: it ends the pass where it stands, as a crash there would (the
   * batch's progress is not recorded). Unset in production.
   */
  onApplied?: AppliedObserver;
  /** staged rollouts: how often a stage waiting on its gate is judged again (default 5 s; each judgement walks the scope) */
  gateIntervalMs?: number;
}

export class AssignmentReconciler {
  private readonly job: PeriodicJob<ReconcileReport>;
  private readonly compliance: ComplianceSummaries;
  private readonly ctx: PassContext;

  constructor(
    repo: Persistence,
    bus: ChangeBus,
    clock: Clock,
    options: ReconcilerOptions,
    log: Log = () => undefined,
  ) {
    const lease = new Lease(repo.leases, clock, "assignment-reconciler", options.holder, options.leaseMs);
    const deps: ApplyDeps = { repo, bus, clock };
    this.compliance = new ComplianceSummaries(options.complianceIntervalMs);
    this.ctx = {
      repo,
      deps,
      clock,
      lease,
      slicer: new Slicer(),
      batchSize: options.batchSize,
      clustersPerCommit: Math.max(1, Math.min(options.clustersPerCommit ?? CLUSTERS_PER_COMMIT, CLUSTERS_PER_COMMIT)),
      log,
      markChanged: (partition) => this.compliance.markChanged(partition),
      onApplied: options.onApplied,
      gateIntervalMs: options.gateIntervalMs ?? DEFAULT_GATE_INTERVAL_MS,
      gateDue: new Map(),
      stageCache: new Map(),
    };
    this.job = new PeriodicJob({
      intervalMs: options.intervalMs,
      run: () => this.pass(),
      onError: (err) => log("assignment reconciliation failed", { err }),
      runAtStart: true,
      lease: { lease, skipped: () => emptyReport(false) },
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** run soon, once started (before start() nothing runs by itself: tests drive runOnce) */
  wake(): void {
    this.job.wake();
  }

  /** one pass; overlapping calls share the pass in progress */
  runOnce(): Promise<ReconcileReport> {
    return this.job.runOnce();
  }

  /** runs while this replica holds the lease (the job checked it) */
  private async pass(): Promise<ReconcileReport> {
    const report = emptyReport(true);
    // rollouts advance one batch per assignment per round, the outbox is drained between rounds:
    // a cluster registering during a long rollout still gets its configurations at once. Every batch
    // checks the lease first (renewing it once a third has passed); a replica that lost it stops where it is.
    for (;;) {
      if (!(await drainOutbox(this.ctx, report))) return report;
      let more = false;
      for (const assignment of await allAssignments(this.ctx)) {
        if (!(await this.ctx.lease.keep())) return report;
        if ((await rolloutBatch(this.ctx, assignment, report)) === "more") more = true;
      }
      if (!more) break;
    }
    // after the rollouts, not between their batches: a summary walks the whole scope, and a 10,000-cluster
    // rollout interrupted by walks every interval took several times as long (measured)
    await this.compliance.refresh(this.ctx, report);
    return report;
  }

  /** recompute every summary now (tests, operators: after agents report, without waiting for the interval) */
  async refreshAllSummaries(): Promise<void> {
    for (const a of await allAssignments(this.ctx)) if (!a.record.deletion) await writeSummary(this.ctx, a.record);
  }
}
