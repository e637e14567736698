/**
 * The one seam every write of the persistence modules goes through. Inside a unit of work
 * (unit-of-work.ts) a write is staged and committed with the rest of the request's writes in one
 * atomic, durable commit; outside one (background steps, start-up) it goes to the store at once.
 * docs/design/persistence.md.
 */
import crypto from "node:crypto";
import type { DeleteManyQuery, DocKind, NewDocument, Store, StoredDocument } from "../store/port.js";
import { currentUnit } from "./unit-of-work.js";

export interface StoreWriter {
  create(doc: NewDocument): Promise<StoredDocument>;
  replace(doc: NewDocument, ifMatch: string): Promise<StoredDocument>;
  delete(kind: DocKind, key: string, partition: string, ifMatch?: string): Promise<boolean>;
  /** the body's numeric `field` goes up by one (created at 1): version markers */
  increment(doc: NewDocument, field: string): Promise<void>;
  /** a cascade: stays a step of its own (many documents), never part of a unit's commit */
  deleteMany(query: DeleteManyQuery): Promise<number>;
}

/** every write straight to the store, one at a time (no unit of work is ever joined) */
export function directWriter(store: Store): StoreWriter {
  return {
    create: (doc) => store.create(doc),
    replace: (doc, ifMatch) => store.replace(doc, ifMatch),
    delete: (kind, key, partition, ifMatch) => store.delete(kind, key, partition, ifMatch),
    increment: (doc, field) => store.commit([{ op: "increment", doc, field, etag: crypto.randomUUID() }]),
    deleteMany: (query) => store.deleteMany(query),
  };
}

/** joins the caller's unit of work when there is one, else writes at once: what the service uses */
export function unitWriter(store: Store): StoreWriter {
  const direct = directWriter(store);
  return {
    create: async (doc) => currentUnit()?.create(doc) ?? direct.create(doc),
    replace: async (doc, ifMatch) => currentUnit()?.replace(doc, ifMatch) ?? direct.replace(doc, ifMatch),
    delete: async (kind, key, partition, ifMatch) => currentUnit()?.delete(kind, key, partition, ifMatch) ?? direct.delete(kind, key, partition, ifMatch),
    increment: async (doc, field) => {
      const unit = currentUnit();
      if (unit) unit.increment(doc, field);
      else await direct.increment(doc, field);
    },
    deleteMany: (query) => direct.deleteMany(query),
  };
}
