/**
 * The service's records in the store, by aggregate, all on the one collection API and the one writer
 * seam (docs/design/persistence.md). Built once by the app's wiring; domain services and jobs take the
 * aggregates they need from it.
 */
import { plainCodec, type BodyCodec } from "../ports/body-codec.js";
import type { Store } from "../store/port.js";
import { Assignments } from "./assignments.js";
import { Changes } from "./changes.js";
import { Clusters } from "./clusters.js";
import { collectionDeps } from "./collection.js";
import { Configurations } from "./configurations.js";
import { FluxConfigurations } from "./flux-configurations.js";
import { FluxVersions } from "./flux-versions.js";
import { Leases } from "./leases.js";
import { Markers } from "./markers.js";
import { Operations } from "./operations.js";
import { Outbox } from "./outbox.js";
import { Secrets, SECRETS_RETENTION_MAX_MS } from "./secrets.js";
import { Subscriptions } from "./subscriptions.js";
import { currentUnit, inUnitOfWork } from "./unit-of-work.js";
import { unitWriter, type StoreWriter } from "./writer.js";

export type { StoredDocument, Versioned } from "./collection.js";
export type { ClusterWork } from "./outbox.js";
export { SECRETS_RETENTION_MAX_MS } from "./secrets.js";
export { byPartition } from "./unit-of-work.js";
export { subscriptionPartition } from "./subscriptions.js";
/** the most writes one unit of work may stage (one commit: Cosmos DB's transactional batch limit) */
export { MAX_COMMIT_OPS as MAX_UNIT_WRITES } from "../store/port.js";

export interface PersistenceOptions {
  /** protected settings and known_hosts are kept at most this long after the PUT that submitted them */
  secretsRetentionMs: number;
  /** the service's clock (a staged write's updatedAt until its commit gives the store's) */
  now?: () => number;
}

export class Persistence {
  readonly subscriptions: Subscriptions;
  readonly clusters: Clusters;
  readonly configurations: Configurations;
  /** Flux v2 fluxConfigurations (issue #16) */
  readonly fluxConfigurations: FluxConfigurations;
  /** each cluster's Flux major version: the one-version rule's per-cluster document (flux-versions.ts) */
  readonly fluxVersions: FluxVersions;
  readonly secrets: Secrets;
  readonly assignments: Assignments;
  readonly outbox: Outbox;
  readonly markers: Markers;
  readonly operations: Operations;
  readonly changes: Changes;
  readonly leases: Leases;

  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    codec: BodyCodec = plainCodec,
    options: PersistenceOptions = { secretsRetentionMs: SECRETS_RETENTION_MAX_MS },
    writer: StoreWriter = unitWriter(store),
  ) {
    this.now = options.now ?? Date.now;
    const deps = collectionDeps(store, codec, writer);
    this.subscriptions = new Subscriptions(deps);
    this.clusters = new Clusters(deps);
    this.fluxVersions = new FluxVersions(deps);
    this.configurations = new Configurations(deps, this.fluxVersions);
    this.fluxConfigurations = new FluxConfigurations(deps, this.fluxVersions);
    this.secrets = new Secrets(deps, options.secretsRetentionMs);
    this.assignments = new Assignments(deps);
    this.outbox = new Outbox(deps);
    this.markers = new Markers(deps);
    this.operations = new Operations(deps);
    this.changes = new Changes(store);
    this.leases = new Leases(deps);
  }

  /**
   * Runs `work` as one unit of work: every write it makes (through any aggregate, and the sealing
   * codec's key writes) is committed at once, atomically and durably, when it returns; nothing is
   * written when it throws. A lost race at commit throws the store's typed error, so the caller's
   * retry loop (withOptimisticRetry, retryOnLostRace) reruns the whole attempt on fresh reads.
   */
  atomically<R>(work: () => Promise<R>): Promise<R> {
    return inUnitOfWork(this.store, this.now, work);
  }

  /** runs `run` once the caller's unit of work has committed (never if it fails), or now outside one */
  afterCommit(run: () => void): void {
    const unit = currentUnit();
    if (unit) unit.onCommit(run);
    else run();
  }
}
