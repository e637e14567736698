/** Connected clusters: the parent resource every configuration lives under. */
import crypto from "node:crypto";
import { LRUCache } from "lru-cache";
import { checkDeleteConditions, checkPutConditions, type Conditions } from "../arm/etag.js";
import { errors } from "../arm/errors.js";
import { CLUSTER_TYPE, clusterKeyOf, EVERY_CLUSTER, type ClusterKey, type ClusterRef, type ResourceScope } from "../arm/resource-ids.js";
import { AZURE_PUBLIC_REGIONS } from "../arm/shapes.js";
import type { Clock } from "../ports/clock.js";
import { announce, DELETED_MARKER_LIFETIME_MS, type ChangeBus } from "./changes.js";
import { nextSystemData, type WriteActor } from "../arm/system-data.js";
import type { Principal } from "../ports/principal.js";
import { mergeClusterPatch, validateClusterPut, type ValidatedCluster } from "./validation/cluster.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Persistence, Versioned } from "../persistence/index.js";
import type { Subscriptions } from "./subscriptions.js";
import type { ClusterRecord } from "./types.js";
import { agentKeyOf, compromisedFingerprints, presentedKey } from "./agent-keys.js";
import * as ClusterSelectors from "./cluster-selector.js";

/** a cluster named by a path, parsed once at the surface (src/arm/resource-ids.ts) */
export type { ClusterRef } from "../arm/resource-ids.js";

export interface ListResult<T> {
  items: T[];
  continuation?: string;
}

/** how the child resources' reads learn that their cluster exists (see Clusters.requireExisting) */
export interface ClusterCacheOptions {
  /** without a healthy change watcher, an entry is read again after this long (other replicas' deletions) */
  stalenessMs: number;
  /** the clusters remembered (one small entry each); the bound only stops unbounded growth */
  maxClusters: number;
}

export const DEFAULT_CLUSTER_CACHE: ClusterCacheOptions = { stalenessMs: 5000, maxClusters: 100_000 };

export class Clusters {
  /**
   * Clusters this process saw exist, for the reads of their child resources: an entry holds only when it
   * was confirmed (no record, no key). Exact within the process: a deletion here announces "identity" on
   * the bus and the entry goes at once; other replicas' deletions arrive through the change watcher's
   * markers (or, while it is not healthy, the entry is read again after stalenessMs). Misses are not kept:
   * a caller naming random clusters cannot grow it, and a cluster created here is simply read once.
   */
  private readonly existing: LRUCache<ClusterKey, { checkedAt: number }>;
  /** bumped by every invalidation: a read that one overtook must not cache what it read (it may be gone) */
  private invalidations = 0;
  /** set when a ChangeWatcher runs: while it is healthy, entries stay valid until a change is announced */
  watcher?: { healthy(): boolean };

  constructor(
    private readonly repo: Persistence,
    private readonly subscriptions: Subscriptions,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    /** a Connected cluster not heard from for this long shows Offline */
    private readonly offlineAfterMs: number,
    /** tells this process's assignment reconciler that a cluster changed (its outbox holds what) */
    private readonly wakeReconciler: () => void = () => undefined,
    /** the region names a new cluster may name (ALLOWED_LOCATIONS) */
    private readonly allowedLocations: readonly string[] = AZURE_PUBLIC_REGIONS,
    private readonly cache: ClusterCacheOptions = DEFAULT_CLUSTER_CACHE,
  ) {
    this.existing = new LRUCache({ max: cache.maxClusters });
    bus.on((change) => {
      // "configurations" changes leave the cluster where it is; "identity" is a key change or a deletion
      if (change.what !== "identity" && change.clusterKey !== EVERY_CLUSTER) return;
      this.invalidations++;
      if (change.clusterKey === EVERY_CLUSTER) this.existing.clear();
      else this.existing.delete(change.clusterKey);
    });
  }

  /**
   * The cluster as users see it: connectivity as of now (Connected turns Offline when the agent has
   * been silent too long, Expired while its key is compromised), the key in its normalized public form
   * whatever an older version stored, and the ARM ETag (which agent reports do not move).
   */
  private present(found: Versioned<ClusterRecord>): Versioned<ClusterRecord> {
    const p = found.record.properties;
    const key = agentKeyOf(found.record);
    const silent = p.connectivityStatus === "Connected" && p.lastConnectivityTime !== undefined && this.clock.now() - Date.parse(p.lastConnectivityTime) > this.offlineAfterMs;
    const connectivityStatus = key.compromised ? "Expired" : silent ? "Offline" : p.connectivityStatus;
    const record: ClusterRecord = {
      ...found.record,
      properties: { ...p, agentPublicKeyCertificate: presentedKey(p.agentPublicKeyCertificate), connectivityStatus, ...(key.compromised ? { agentKeyStatus: "Compromised" as const } : {}) },
    };
    return { ...found, record, etag: clusterEtag(record) };
  }

  private notFound(ref: ClusterRef) {
    return errors.resourceNotFound(CLUSTER_TYPE, ref.name, ref.resourceGroup);
  }

  /** the live cluster or a 404 in ARM's words; used by every child resource */
  async require(ref: ClusterRef): Promise<Versioned<ClusterRecord>> {
    const found = await this.repo.clusters.get(ref.subscriptionId, ref.id);
    if (!found) throw errors.parentResourceNotFound(CLUSTER_TYPE, ref.name, ref.resourceGroup);
    return found;
  }

  /**
   * The 404 of `require` for a read that needs only to know the cluster exists (a child resource's GET):
   * from memory when this process saw it exist and nothing announced its deletion since (see `existing`).
   */
  async requireExisting(ref: ClusterRef): Promise<void> {
    const key = clusterKeyOf(ref.id);
    const cached = this.existing.get(key);
    const now = this.clock.now();
    if (cached && (this.watcher?.healthy() || now - cached.checkedAt < this.cache.stalenessMs)) return;
    const seen = this.invalidations;
    const found = await this.repo.clusters.get(ref.subscriptionId, ref.id);
    if (!found) {
      this.existing.delete(key);
      throw errors.parentResourceNotFound(CLUSTER_TYPE, ref.name, ref.resourceGroup);
    }
    if (this.invalidations === seen) this.existing.set(key, { checkedAt: now });
  }

  async get(principal: Principal, ref: ClusterRef): Promise<Versioned<ClusterRecord>> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.repo.clusters.get(ref.subscriptionId, ref.id);
    if (!found) throw this.notFound(ref);
    return this.present(found);
  }

  /** every cluster of the scope (a resource group, or the whole subscription) */
  async list(principal: Principal, { subscriptionId, resourceGroup }: ResourceScope, limit: number, continuation?: string) {
    await this.subscriptions.authorize(principal, subscriptionId, "read");
    const page = await this.repo.clusters.page(subscriptionId, resourceGroup, limit, continuation);
    return { items: page.items.map((v) => this.present(v)), continuation: page.continuation };
  }

  async put(principal: Principal, ref: ClusterRef, body: Record<string, unknown>, conditions: Conditions, actor: WriteActor) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const id = ref.id;
    // conditions are checked against the ARM ETag on every attempt: a heartbeat racing this write is
    // retried past, a user's change is the caller's 412
    return withOptimisticRetry(false, () => this.repo.atomically(async () => {
      const existing = await this.repo.clusters.get(ref.subscriptionId, id);
      const shown = existing ? this.present(existing) : undefined;
      checkPutConditions(conditions, shown?.etag);
      // read-only values are compared with what a GET showed (Offline, Expired), so a GET body PUT back passes
      const input = validateClusterPut({ name: ref.name, resourceGroup: ref.resourceGroup, body, existing: shown?.record, allowedLocations: this.allowedLocations });
      return this.write(principal, ref, existing, input, actor);
    }));
  }

  /**
   * ConnectedCluster_Update: the patch is merged onto the resource as a GET shows it, and the result is
   * validated and written exactly as a PUT of it would be (`checkPutBody` is the PUT's schema, then the
   * PUT's rules), so a re-tag re-evaluates assignments like a PUT does.
   */
  async patch(
    principal: Principal,
    ref: ClusterRef,
    patch: Record<string, unknown>,
    conditions: Conditions,
    actor: WriteActor,
    checkPutBody: (body: Record<string, unknown>) => void,
  ): Promise<Versioned<ClusterRecord>> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const id = ref.id;
    return withOptimisticRetry(false, () => this.repo.atomically(async () => {
      const existing = await this.repo.clusters.get(ref.subscriptionId, id);
      if (!existing) throw this.notFound(ref);
      const shown = this.present(existing);
      // an existing resource: If-Match must match, If-None-Match "*" fails, as for a PUT
      checkPutConditions(conditions, shown.etag);
      const merged = mergeClusterPatch(shown.record, patch);
      checkPutBody(merged);
      const input = validateClusterPut({ name: ref.name, resourceGroup: ref.resourceGroup, body: merged, existing: shown.record, allowedLocations: this.allowedLocations });
      return (await this.write(principal, ref, existing, input, actor)).saved;
    }));
  }

  /** the one write path of PUT and PATCH: the record, the assignments' outbox, the agent-facing caches */
  private async write(principal: Principal, ref: ClusterRef, existing: Versioned<ClusterRecord> | undefined, input: ValidatedCluster, actor: WriteActor) {
    const id = ref.id;
    const previous = existing?.record;
    // a key once stored with its private half stays refused on this cluster, whatever is registered later
    const compromisedAgentKeys = previous ? compromisedFingerprints(previous) : [];
    const identity =
      input.identityType === "SystemAssigned"
        ? { type: "SystemAssigned" as const, principalId: previous?.identity.principalId ?? crypto.randomUUID(), tenantId: principal.tenantId }
        : { type: "None" as const };
    const record: ClusterRecord = {
      id,
      name: ref.name,
      resourceGroup: ref.resourceGroup,
      subscriptionId: ref.subscriptionId,
      location: input.location,
      tags: input.tags,
      identity,
      properties: {
        // agent-reported and service-owned values survive a PUT; the user's replace everything else
        ...(previous?.properties ?? { connectivityStatus: "Connecting" }),
        agentPublicKeyCertificate: input.agentPublicKeyCertificate,
        distribution: input.distribution,
        infrastructure: input.infrastructure,
        provisioningState: "Succeeded",
        ...(compromisedAgentKeys.length > 0 ? { compromisedAgentKeys } : {}),
      },
      systemData: nextSystemData(previous?.systemData, actor),
    };
    // the assignments' outbox item commits with the record (a crash leaves both or neither), and its
    // etag moves with it, so a reconciler that read the cluster before this write cannot retire the item
    const selectable = !previous || ClusterSelectors.changed(previous, record);
    // a new registration starts clean, even where a deletion of the same id stopped half-way
    if (!existing) await this.repo.clusters.finishPendingDeletion(ref.subscriptionId, id);
    const saved = await this.repo.clusters.write(record, existing?.etag);
    if (selectable) {
      await this.repo.outbox.touch(ref.subscriptionId, id);
      this.repo.afterCommit(this.wakeReconciler);
    }
    // a replaced agent key stops working at once: the agent-facing caches drop this cluster
    if (previous && (previous.properties.agentPublicKeyCertificate !== record.properties.agentPublicKeyCertificate || agentKeyOf(previous).compromised)) {
      await announce(this.repo, this.bus, ref.subscriptionId, id, "identity");
    }
    return { created: existing === undefined, saved: this.present(saved) };
  }

  /** 200 when it existed (its configurations go with it), 204 when not */
  async delete(principal: Principal, ref: ClusterRef, conditions: Conditions): Promise<boolean> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "delete");
    const id = ref.id;
    return withOptimisticRetry(false, async () => {
      const existing = await this.repo.clusters.get(ref.subscriptionId, id);
      checkDeleteConditions(conditions, existing ? this.present(existing).etag : undefined);
      if (!existing) {
        // a retry of a deletion that stopped half-way finishes it
        await this.repo.clusters.finishPendingDeletion(ref.subscriptionId, id);
        return false;
      }
      const deleted = await this.repo.clusters.delete(ref.subscriptionId, id, existing.etag);
      // other replicas learn of the deletion from a marker (it outlives the cluster by a day)
      await announce(this.repo, this.bus, ref.subscriptionId, id, "identity", this.clock.now() + DELETED_MARKER_LIFETIME_MS);
      return deleted;
    });
  }
}

/**
 * The ARM ETag of a cluster: a digest of what users own and see change (their properties, identity,
 * tags, systemData, the key's status), not of what the agent reports (versions, node counts,
 * connectivity), so a heartbeat does not fail a user's If-Match write (docs/design/agent.md).
 */
export function clusterEtag(presented: ClusterRecord): string {
  const p = presented.properties;
  const owned = [
    presented.id,
    presented.location,
    presented.tags ?? {},
    presented.identity,
    [p.agentPublicKeyCertificate, p.distribution ?? null, p.infrastructure ?? null, p.provisioningState, p.agentKeyStatus ?? null],
    presented.systemData,
  ];
  return crypto.createHash("sha256").update(JSON.stringify(owned)).digest("base64url").slice(0, 27);
}
