/**
 * The document layout of store/port.ts. SQLite: one table keyed by (kind, key), with the list index
 * (kind, partition, parent, key). Cosmos DB: the container is created by the bootstrap step (it must
 * exist before any migration can be recorded); this step checks its partition key and turns on
 * per-item TTL on a container that was created without it.
 */
import type { Migration } from "./types.js";
import { COSMOS_INDEXING_POLICY, COSMOS_PARTITION_KEY_PATH } from "./cosmos-layout.js";

export const initialLayout: Migration = {
  id: "0001-initial-layout",
  description: "documents table / container with list index and per-item expiry",
  sqlite(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS documents (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        partition TEXT NOT NULL,
        parent TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER,
        schema_version INTEGER NOT NULL,
        body TEXT NOT NULL,
        etag TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
      );
      CREATE INDEX IF NOT EXISTS documents_list ON documents (kind, partition, parent, key);
      CREATE INDEX IF NOT EXISTS documents_partition ON documents (partition, kind);
      CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at) WHERE expires_at IS NOT NULL;
    `);
  },
  async cosmos({ container }) {
    const { resource } = await container.read();
    if (!resource) throw new Error("container missing after bootstrap");
    const paths = resource.partitionKey?.paths ?? [];
    if (paths.length !== 1 || paths[0] !== COSMOS_PARTITION_KEY_PATH) {
      throw new Error(`container partition key is ${JSON.stringify(paths)}, expected ["${COSMOS_PARTITION_KEY_PATH}"]; it cannot be changed in place`);
    }
    if (resource.defaultTtl === undefined) {
      // per-item ttl only works once the container has a defaultTtl (-1: items live until their own ttl)
      await container.replace({ ...resource, id: resource.id, partitionKey: resource.partitionKey, indexingPolicy: resource.indexingPolicy ?? COSMOS_INDEXING_POLICY, defaultTtl: -1 });
    }
  },
};
