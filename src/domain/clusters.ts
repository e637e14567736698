/** Connected clusters: the parent resource every configuration lives under. */
import crypto from "node:crypto";
import { checkDeleteConditions, checkPutConditions, hasConditions, type Conditions } from "../arm/etag.js";
import { errors } from "../arm/errors.js";
import { CLUSTER_TYPE, clusterId } from "../arm/resource-ids.js";
import { AZURE_PUBLIC_REGIONS } from "../arm/shapes.js";
import type { Clock } from "../ports/clock.js";
import { announce, DELETED_MARKER_LIFETIME_MS, type ChangeBus } from "./changes.js";
import { nextSystemData, type WriteActor } from "../arm/system-data.js";
import type { Principal } from "../auth/principal.js";
import { validateClusterPut } from "./validation/cluster.js";
import { withOptimisticRetry } from "./optimistic.js";
import type { Repository, Versioned } from "./repository.js";
import type { Subscriptions } from "./subscriptions.js";
import type { ClusterRecord } from "./types.js";

export interface ClusterRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface ListResult<T> {
  items: T[];
  continuation?: string;
}

export class Clusters {
  constructor(
    private readonly repo: Repository,
    private readonly subscriptions: Subscriptions,
    private readonly bus: ChangeBus,
    private readonly clock: Clock,
    /** a Connected cluster not heard from for this long shows Offline */
    private readonly offlineAfterMs: number,
    /** tells this process's assignment reconciler that a cluster changed (its outbox holds what) */
    private readonly wakeReconciler: () => void = () => undefined,
    /** the region names a new cluster may name (ALLOWED_LOCATIONS) */
    private readonly allowedLocations: readonly string[] = AZURE_PUBLIC_REGIONS,
  ) {}

  /** connectivity as of now: Connected turns Offline when the agent has been silent too long */
  private current(found: Versioned<ClusterRecord>): Versioned<ClusterRecord> {
    const p = found.record.properties;
    if (p.connectivityStatus !== "Connected" || !p.lastConnectivityTime) return found;
    if (this.clock.now() - Date.parse(p.lastConnectivityTime) <= this.offlineAfterMs) return found;
    return { ...found, record: { ...found.record, properties: { ...p, connectivityStatus: "Offline" } } };
  }

  private notFound(ref: ClusterRef) {
    return errors.resourceNotFound(CLUSTER_TYPE, ref.name, ref.resourceGroup);
  }

  /** the live cluster or a 404 in ARM's words; used by every child resource */
  async require(ref: ClusterRef): Promise<Versioned<ClusterRecord>> {
    const found = await this.repo.getCluster(ref.subscriptionId, clusterId(ref.subscriptionId, ref.resourceGroup, ref.name));
    if (!found) throw errors.parentResourceNotFound(CLUSTER_TYPE, ref.name, ref.resourceGroup);
    return found;
  }

  async get(principal: Principal, ref: ClusterRef): Promise<Versioned<ClusterRecord>> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "read");
    const found = await this.repo.getCluster(ref.subscriptionId, clusterId(ref.subscriptionId, ref.resourceGroup, ref.name));
    if (!found) throw this.notFound(ref);
    return this.current(found);
  }

  async list(principal: Principal, subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) {
    await this.subscriptions.authorize(principal, subscriptionId, "read");
    const page = await this.repo.listClusters(subscriptionId, resourceGroup, limit, continuation);
    return { items: page.items.map((v) => this.current(v)), continuation: page.continuation };
  }

  async put(principal: Principal, ref: ClusterRef, body: Record<string, unknown>, conditions: Conditions, actor: WriteActor) {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "write");
    const id = clusterId(ref.subscriptionId, ref.resourceGroup, ref.name);
    return withOptimisticRetry(hasConditions(conditions), async () => {
      const existing = await this.repo.getCluster(ref.subscriptionId, id);
      checkPutConditions(conditions, existing?.etag);
      const input = validateClusterPut({ name: ref.name, resourceGroup: ref.resourceGroup, body, existing: existing?.record, allowedLocations: this.allowedLocations });
      const previous = existing?.record;
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
        },
        systemData: nextSystemData(previous?.systemData, actor),
      };
      // the assignments' outbox is touched before the write (a crash leaves work, not a miss) and after it
      // (a reconciler that read the cluster before this write cannot retire the item): see touchClusterWork
      const selectable = !previous || selectionChanged(previous, record);
      if (selectable) await this.repo.touchClusterWork(ref.subscriptionId, id);
      // a new registration starts clean, even where a deletion of the same id stopped half-way
      if (!existing) await this.repo.finishPendingDeletion(ref.subscriptionId, id);
      const saved = await this.repo.writeCluster(record, existing?.etag);
      if (selectable) {
        await this.repo.touchClusterWork(ref.subscriptionId, id);
        this.wakeReconciler();
      }
      // a replaced agent key stops working at once: the agent-facing caches drop this cluster
      if (previous && previous.properties.agentPublicKeyCertificate !== record.properties.agentPublicKeyCertificate) {
        await announce(this.repo, this.bus, ref.subscriptionId, id, "identity");
      }
      return { created: existing === undefined, saved: this.current(saved) };
    });
  }

  /** 200 when it existed (its configurations go with it), 204 when not */
  async delete(principal: Principal, ref: ClusterRef, conditions: Conditions): Promise<boolean> {
    await this.subscriptions.authorize(principal, ref.subscriptionId, "delete");
    const id = clusterId(ref.subscriptionId, ref.resourceGroup, ref.name);
    return withOptimisticRetry(hasConditions(conditions), async () => {
      const existing = await this.repo.getCluster(ref.subscriptionId, id);
      checkDeleteConditions(conditions, existing?.etag);
      if (!existing) {
        // a retry of a deletion that stopped half-way finishes it
        await this.repo.finishPendingDeletion(ref.subscriptionId, id);
        return false;
      }
      const deleted = await this.repo.deleteCluster(ref.subscriptionId, id, existing.etag);
      // other replicas learn of the deletion from a marker (it outlives the cluster by a day)
      await announce(this.repo, this.bus, ref.subscriptionId, id, "identity", this.clock.now() + DELETED_MARKER_LIFETIME_MS);
      return deleted;
    });
  }
}

/** whether what an assignment's cluster selector looks at changed */
function selectionChanged(before: ClusterRecord, after: ClusterRecord): boolean {
  const tags = (r: ClusterRecord) => JSON.stringify(Object.entries(r.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return tags(before) !== tags(after) || before.properties.distribution !== after.properties.distribution || before.properties.infrastructure !== after.properties.infrastructure;
}
