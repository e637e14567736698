/**
 * How a replica learns of other replicas' writes without a change feed: every `intervalMs`, one
 * query for the desired-state markers written since the last look (bumped by every change agents care
 * about: configurations, agent key, cluster or subscription deletion),
 * replayed onto the local ChangeBus. While these checks succeed, the agent-facing caches trust their
 * entries until told otherwise, so a poll costs no store call whatever the fleet size; the staleness
 * bound across replicas is `intervalMs` plus one query. If checks fail for 3 intervals, the caches fall
 * back to checking each entry's marker after `intervalMs` (see DesiredState, AgentAuthenticator).
 * Within one process every change is announced directly and is seen at once.
 */
import type { Clock } from "../ports/clock.js";
import { EVERY_CLUSTER, type ChangeBus } from "../domain/changes.js";
import type { Changes } from "../persistence/changes.js";
import { announcedBy } from "../persistence/markers.js";
import { PeriodicJob } from "./periodic-job.js";

export interface ChangeWatcherOptions {
  intervalMs: number;
  /** writers' clocks differ: each look starts this much before the previous one */
  overlapMs: number;
  /** more changes than this in one interval: flush every cache instead */
  limit: number;
}


export class ChangeWatcher {
  private lastLook: number;
  private healthyAt = Number.NEGATIVE_INFINITY;
  /** writes already announced (key@updatedAt): the overlap between looks must not announce them twice */
  private announced = new Map<string, number>();
  private readonly job: PeriodicJob<void>;
  looks = 0;

  constructor(
    private readonly changes: Changes,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    private readonly options: ChangeWatcherOptions,
  ) {
    this.lastLook = clock.now();
    // a failed look is not logged: healthy() turning false is the signal (the caches check markers again)
    this.job = new PeriodicJob({ intervalMs: options.intervalMs, run: () => this.look(), onError: () => undefined, runAtStart: true });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** true while recent looks succeeded: caches may trust their entries until told otherwise */
  healthy(): boolean {
    return this.clock.now() - this.healthyAt < 3 * this.options.intervalMs;
  }

  /** one look; overlapping calls share the look in progress */
  runOnce(): Promise<void> {
    return this.job.runOnce();
  }

  private async look(): Promise<void> {
    const startedAt = this.clock.now();
    const since = this.lastLook - this.options.overlapMs;
    // markers only: every change that matters to agents bumps one (configurations, agent key, cluster or
    // subscription deletion); heartbeats rewrite cluster records and must not flush anything
    const { items, truncated } = await this.changes.systemRecordsChangedSince(since, this.options.limit);
    this.looks++;
    for (const [id, at] of this.announced) if (at <= since) this.announced.delete(id);
    if (truncated) this.bus.emit({ clusterKey: EVERY_CLUSTER, what: "identity" });
    else {
      for (const doc of items) {
        const id = `${doc.kind}:${doc.key}`;
        if (this.announced.get(id) === doc.updatedAt) continue;
        this.announced.set(id, doc.updatedAt);
        const clusterKey = announcedBy(doc);
        if (clusterKey !== undefined) this.bus.emit({ clusterKey, what: "identity" });
      }
    }
    this.lastLook = startedAt;
    this.healthyAt = startedAt;
  }
}
