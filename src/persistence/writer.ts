/**
 * The one seam every write of the persistence modules goes through (the "unit of work"). Today it
 * forwards each write to the store as it comes; a later change can collect one request's writes here
 * and commit them at once (a SQLite transaction; a Cosmos DB transactional batch within the
 * subscription's partition) without touching the aggregates or their callers. docs/design/persistence.md.
 */
import type { DeleteManyQuery, DocKind, NewDocument, Store, StoredDocument } from "../store/port.js";

export interface StoreWriter {
  create(doc: NewDocument): Promise<StoredDocument>;
  replace(doc: NewDocument, ifMatch: string): Promise<StoredDocument>;
  delete(kind: DocKind, key: string, partition: string, ifMatch?: string): Promise<boolean>;
  /** a cascade: stays a step of its own (many documents), never part of a batch */
  deleteMany(query: DeleteManyQuery): Promise<number>;
}

/** every write straight to the store, one at a time: what the service does today */
export function directWriter(store: Store): StoreWriter {
  return {
    create: (doc) => store.create(doc),
    replace: (doc, ifMatch) => store.replace(doc, ifMatch),
    delete: (kind, key, partition, ifMatch) => store.delete(kind, key, partition, ifMatch),
    deleteMany: (query) => store.deleteMany(query),
  };
}
