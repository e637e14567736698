/** Configuration assignments (intent only) and the reconciler's status of each (rollout progress, compliance). */
import { assignmentScopeId, keyOf, partitionOf, resourceGroupId } from "../arm/resource-ids.js";
import type { AssignmentRecord, AssignmentStatus } from "../domain/types.js";
import type { Page, StoredDocument } from "../store/port.js";
import { Collection, type CollectionDeps, type Place, type Versioned } from "./collection.js";

export class Assignments {
  private readonly assignments: Collection<AssignmentRecord>;
  private readonly statuses: Collection<AssignmentStatus>;

  constructor(deps: CollectionDeps) {
    this.assignments = new Collection<AssignmentRecord>(deps, "assignment");
    this.statuses = new Collection<AssignmentStatus>(deps, "assignmentStatus");
  }

  private place(record: Pick<AssignmentRecord, "id" | "subscriptionId" | "resourceGroup">): Place {
    return { key: keyOf(record.id), partition: partitionOf(record.subscriptionId), parent: keyOf(assignmentScopeId(record.subscriptionId, record.resourceGroup)) };
  }

  get(subscriptionId: string, id: string): Promise<Versioned<AssignmentRecord> | undefined> {
    return this.assignments.get(keyOf(id), partitionOf(subscriptionId));
  }

  decode(doc: StoredDocument): Promise<Versioned<AssignmentRecord>> {
    return this.assignments.decode(doc);
  }

  write(record: AssignmentRecord, etag: string | undefined): Promise<Versioned<AssignmentRecord>> {
    return this.assignments.write(this.place(record), record, etag);
  }

  /** the assignment and its status go together, once its rollout has removed what it managed */
  async delete(record: AssignmentRecord, etag: string): Promise<boolean> {
    const p = this.place(record);
    await this.statuses.delete(p.key, p.partition).catch(() => false);
    return this.assignments.delete(p.key, p.partition, etag);
  }

  /** `resourceGroup` undefined: every assignment of the subscription, whatever its scope */
  page(subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) {
    const parent = resourceGroup === undefined ? undefined : keyOf(resourceGroupId(subscriptionId, resourceGroup));
    return this.assignments.page({ partition: partitionOf(subscriptionId), parent }, limit, continuation);
  }

  /** one page of every assignment's document (of one subscription, or of all), undecoded */
  pageDocuments(subscriptionId: string | undefined, limit: number, continuation?: string): Promise<Page> {
    return this.assignments.pageOf(subscriptionId === undefined ? { scan: true } : { partition: partitionOf(subscriptionId) }, limit, continuation);
  }

  /** every page of every assignment's document (of one subscription, or of all), undecoded: the reconciler decodes each, so an unreadable one is left out alone */
  pages(subscriptionId: string | undefined, pageSize = 200): AsyncGenerator<StoredDocument[]> {
    return this.assignments.pages(subscriptionId === undefined ? { scan: true } : { partition: partitionOf(subscriptionId) }, pageSize);
  }

  private statusPlace(subscriptionId: string, assignmentId: string): Place {
    return { key: keyOf(assignmentId), partition: partitionOf(subscriptionId), parent: "" };
  }

  getStatus(subscriptionId: string, assignmentId: string): Promise<Versioned<AssignmentStatus> | undefined> {
    return this.statuses.get(keyOf(assignmentId), partitionOf(subscriptionId));
  }

  async getManyStatuses(subscriptionId: string, assignmentIds: string[]): Promise<Map<string, AssignmentStatus>> {
    const docs = await this.statuses.documents(assignmentIds.map(keyOf), partitionOf(subscriptionId));
    return new Map(await Promise.all(docs.map(async (d) => [d.key, (await this.statuses.decode(d)).record] as const)));
  }

  writeStatus(subscriptionId: string, assignmentId: string, status: AssignmentStatus, etag: string | undefined): Promise<Versioned<AssignmentStatus>> {
    return this.statuses.write(this.statusPlace(subscriptionId, assignmentId), status, etag);
  }
}
