/** A subscription's registration (its tenant, its RPC lifecycle state) and the cascade of its deletion. */
import { partitionOf } from "../arm/resource-ids.js";
import type { SubscriptionRecord } from "../domain/types.js";
import type { DocKind } from "../store/port.js";
import { Collection, type CollectionDeps, type Place, type Versioned } from "./collection.js";

/** the partition of a subscription's records: jobs that group work by subscription compare these */
export const subscriptionPartition = (subscriptionId: string): string => partitionOf(subscriptionId);

/** what a Deleted subscription loses: all but its registration and the data keys that registration is sealed with */
const CASCADE_KINDS: DocKind[] = ["cluster", "configuration", "fluxConfiguration", "configurationSecrets", "secretKey", "system", "assignment", "assignmentStatus", "clusterWork"];

export class Subscriptions {
  private readonly registrations: Collection<SubscriptionRecord>;

  constructor(private readonly deps: CollectionDeps) {
    this.registrations = new Collection<SubscriptionRecord>(deps, "subscription");
  }

  private place(subscriptionId: string): Place {
    return { key: `/subscriptions/${subscriptionId.toLowerCase()}`, partition: partitionOf(subscriptionId), parent: "" };
  }

  get(subscriptionId: string): Promise<Versioned<SubscriptionRecord> | undefined> {
    const p = this.place(subscriptionId);
    return this.registrations.get(p.key, p.partition);
  }

  write(record: SubscriptionRecord, etag: string | undefined): Promise<Versioned<SubscriptionRecord>> {
    return this.registrations.write(this.place(record.subscriptionId), record, etag);
  }

  /** secret keys go too: their secrets are shredded. One step over many documents (never batched) */
  deleteContent(subscriptionId: string): Promise<number> {
    return this.deps.writer.deleteMany({ partition: partitionOf(subscriptionId), kinds: CASCADE_KINDS });
  }
}
