/**
 * Finished asynchronous operations, so that a Location answers "done" rather than "unknown" for a
 * while. Each records the resource it was issued for: the id answers only under that resource.
 * Typed system records of kind `operation`.
 */
import { keyOf, partitionOf } from "../arm/resource-ids.js";
import { systemKey } from "../store/port.js";
import { Collection, type CollectionDeps } from "./collection.js";

interface FinishedOperation {
  finished: true;
  resourceId: string;
}

export class Operations {
  private readonly finished: Collection<FinishedOperation>;

  constructor(deps: CollectionDeps) {
    this.finished = new Collection<FinishedOperation>(deps, "system");
  }

  async recordFinished(subscriptionId: string, operationId: string, resourceId: string, expiresAt: number): Promise<void> {
    const place = { key: systemKey("operation", operationId.toLowerCase()), partition: partitionOf(subscriptionId), parent: "operations", expiresAt };
    await this.finished.createIfAbsent(place, { finished: true, resourceId: keyOf(resourceId) });
  }

  /** whether the operation finished, issued for `resourceId` (another resource's operation id is unknown here) */
  async isFinished(subscriptionId: string, operationId: string, resourceId: string): Promise<boolean> {
    const found = await this.finished.get(systemKey("operation", operationId.toLowerCase()), partitionOf(subscriptionId));
    return found !== undefined && found.record.resourceId === keyOf(resourceId);
  }
}
