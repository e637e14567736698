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
import { isSystemKey, systemKeyName, type Store } from "../store/port.js";
import { EVERY_CLUSTER, type ChangeBus } from "../domain/changes.js";

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
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  /** writes already announced (key@updatedAt): the overlap between looks must not announce them twice */
  private announced = new Map<string, number>();
  looks = 0;

  constructor(
    private readonly store: Store,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    private readonly options: ChangeWatcherOptions,
  ) {
    this.lastLook = clock.now();
  }

  start(): void {
    this.timer = setInterval(() => void this.tick().catch(() => undefined), this.options.intervalMs);
    this.timer.unref();
    void this.tick().catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight?.catch(() => undefined);
  }

  /** true while recent looks succeeded: caches may trust their entries until told otherwise */
  healthy(): boolean {
    return this.clock.now() - this.healthyAt < 3 * this.options.intervalMs;
  }

  tick(): Promise<void> {
    this.inFlight ??= this.look().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async look(): Promise<void> {
    const startedAt = this.clock.now();
    const since = this.lastLook - this.options.overlapMs;
    // markers only: every change that matters to agents bumps one (configurations, agent key, cluster or
    // subscription deletion); heartbeats rewrite cluster records and must not flush anything
    const { items, truncated } = await this.store.changedSince({ kinds: ["system"], since, limit: this.options.limit });
    this.looks++;
    for (const [id, at] of this.announced) if (at <= since) this.announced.delete(id);
    if (truncated) this.bus.emit({ clusterKey: EVERY_CLUSTER, what: "identity" });
    else {
      for (const doc of items) {
        const id = `${doc.kind}:${doc.key}`;
        if (this.announced.get(id) === doc.updatedAt) continue;
        this.announced.set(id, doc.updatedAt);
        if (isSystemKey("desired", doc.key)) this.bus.emit({ clusterKey: systemKeyName("desired", doc.key), what: "identity" });
      }
    }
    this.lastLook = startedAt;
    this.healthyAt = startedAt;
  }
}
