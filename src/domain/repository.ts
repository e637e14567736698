/**
 * A thin facade over the persistence aggregates (src/persistence), kept while callers move to them:
 * every method forwards to the aggregate that owns the record. New code uses the aggregates.
 */
import { Persistence, type PersistenceOptions } from "../persistence/index.js";
import type { BodyCodec } from "../ports/body-codec.js";
import type { StoredDocument, Store } from "../store/port.js";
import type { ClusterWork } from "../persistence/outbox.js";
import type { AssignmentRecord, AssignmentStatus, ClusterRecord, ConfigurationRecord, ConfigurationSecrets, SubscriptionRecord } from "./types.js";
import type { Versioned } from "../persistence/collection.js";

export { SCHEMA_VERSION, type Versioned } from "../persistence/collection.js";
export { isEveryClusterMarker } from "../persistence/markers.js";
export { SECRETS_RETENTION_MAX_MS } from "../persistence/secrets.js";
export { subscriptionPartition } from "../persistence/subscriptions.js";
export type { ClusterWork } from "../persistence/outbox.js";
export type RepositoryOptions = PersistenceOptions;

export class Repository extends Persistence {
  constructor(store: Store, codec?: BodyCodec, options?: PersistenceOptions) {
    super(store, codec, options);
  }

  getSubscription = (subscriptionId: string): Promise<Versioned<SubscriptionRecord> | undefined> => this.subscriptions.get(subscriptionId);
  writeSubscription = (record: SubscriptionRecord, etag: string | undefined) => this.subscriptions.write(record, etag);
  deleteSubscriptionContent = (subscriptionId: string) => this.subscriptions.deleteContent(subscriptionId);

  getCluster = (subscriptionId: string, id: string): Promise<Versioned<ClusterRecord> | undefined> => this.clusters.get(subscriptionId, id);
  writeCluster = (record: ClusterRecord, etag: string | undefined) => this.clusters.write(record, etag);
  listClusters = (subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) => this.clusters.page(subscriptionId, resourceGroup, limit, continuation);
  listClusterDocuments = (subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) => this.clusters.pageDocuments(subscriptionId, resourceGroup, limit, continuation);
  decodeCluster = (doc: StoredDocument) => this.clusters.decode(doc);
  deleteCluster = (subscriptionId: string, id: string, etag: string) => this.clusters.delete(subscriptionId, id, etag);
  finishPendingDeletion = (subscriptionId: string, id: string) => this.clusters.finishPendingDeletion(subscriptionId, id);
  deleteClusterContent = (subscriptionId: string, id: string, withMarker = false) => this.clusters.deleteContent(subscriptionId, id, withMarker);
  clusterEtagOf = (work: ClusterWork) => this.clusters.etagOf(work.clusterKey, work.partition);

  getDesiredVersion = (subscriptionId: string, clusterId: string) => this.markers.version(subscriptionId, clusterId);
  bumpDesiredVersion = (subscriptionId: string, clusterId: string, expiresAt?: number) => this.markers.bump(subscriptionId, clusterId, expiresAt);

  allConfigurations = (subscriptionId: string, clusterId: string) => this.configurations.all(subscriptionId, clusterId);
  removeTombstone = (subscriptionId: string, id: string, etag: string) => this.configurations.removeTombstone(subscriptionId, id, etag);
  getConfiguration = (subscriptionId: string, id: string): Promise<Versioned<ConfigurationRecord> | undefined> => this.configurations.get(subscriptionId, id);
  writeConfiguration = (subscriptionId: string, record: ConfigurationRecord, etag: string | undefined, deleted = false) => this.configurations.write(subscriptionId, record, etag, deleted);
  prepareConfiguration = (subscriptionId: string, record: ConfigurationRecord, etag: string | undefined, deleted = false) => this.configurations.prepare(subscriptionId, record, etag, deleted);
  listConfigurations = (subscriptionId: string, clusterId: string, limit: number, continuation?: string) => this.configurations.page(subscriptionId, clusterId, limit, continuation);
  getManyConfigurations = (subscriptionId: string, ids: string[]) => this.configurations.getMany(subscriptionId, ids);

  getAssignment = (subscriptionId: string, id: string): Promise<Versioned<AssignmentRecord> | undefined> => this.assignments.get(subscriptionId, id);
  decodeAssignment = (doc: StoredDocument) => this.assignments.decode(doc);
  writeAssignment = (record: AssignmentRecord, etag: string | undefined) => this.assignments.write(record, etag);
  deleteAssignment = (record: AssignmentRecord, etag: string) => this.assignments.delete(record, etag);
  listAssignments = (subscriptionId: string, resourceGroup: string | undefined, limit: number, continuation?: string) => this.assignments.page(subscriptionId, resourceGroup, limit, continuation);
  listAssignmentDocuments = (subscriptionId: string | undefined, limit: number, continuation?: string) => this.assignments.pageDocuments(subscriptionId, limit, continuation);
  subscriptionsChangedSince = (since: number, limit: number) => this.changes.subscriptionsChangedSince(since, limit);
  getAssignmentStatus = (subscriptionId: string, assignmentId: string): Promise<Versioned<AssignmentStatus> | undefined> => this.assignments.getStatus(subscriptionId, assignmentId);
  getManyAssignmentStatuses = (subscriptionId: string, assignmentIds: string[]) => this.assignments.getManyStatuses(subscriptionId, assignmentIds);
  writeAssignmentStatus = (subscriptionId: string, assignmentId: string, status: AssignmentStatus, etag: string | undefined) => this.assignments.writeStatus(subscriptionId, assignmentId, status, etag);

  recordFinishedOperation = (subscriptionId: string, operationId: string, resourceId: string, expiresAt: number) => this.operations.recordFinished(subscriptionId, operationId, resourceId, expiresAt);
  operationFinished = (subscriptionId: string, operationId: string, resourceId: string) => this.operations.isFinished(subscriptionId, operationId, resourceId);

  touchClusterWork = (subscriptionId: string, clusterId: string) => this.outbox.touch(subscriptionId, clusterId);
  deferClusterWork = (doc: StoredDocument, attempts: number, retryAt: number) => this.outbox.defer(doc, attempts, retryAt);
  scanClusterWork = (limit: number, continuation?: string) => this.outbox.page(limit, continuation);
  retireClusterWork = (doc: StoredDocument) => this.outbox.retire(doc);

  getSecrets = (subscriptionId: string, configurationId: string): Promise<Versioned<ConfigurationSecrets> | undefined> => this.secrets.get(subscriptionId, configurationId);
  getManySecrets = (subscriptionId: string, configurationIds: string[]) => this.secrets.getMany(subscriptionId, configurationIds);
  prepareSecrets = (subscriptionId: string, configuration: ConfigurationRecord, secrets: ConfigurationSecrets) => this.secrets.prepare(subscriptionId, configuration, secrets);
  deleteSecrets = (subscriptionId: string, configurationId: string) => this.secrets.delete(subscriptionId, configurationId);
  purgeExpiredSecrets = (doc: StoredDocument) => this.secrets.purgeExpired(doc);
}
