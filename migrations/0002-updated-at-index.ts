/**
 * Replicas watch each other's writes with one cheap query on updatedAt (src/jobs/change-watcher.ts),
 * the substitute for a change feed where the engine has none. SQLite: an index; Cosmos DB: the path
 * added to the indexing policy of a container created before it (an online operation on Cosmos DB;
 * containers created since have it from the bootstrap, so this step finds nothing to do).
 */
import { COSMOS_INDEXING_POLICY } from "./cosmos-layout.js";
import type { Migration } from "./types.js";

export const updatedAtIndex: Migration = {
  id: "0002-updated-at-index",
  description: "index documents by updatedAt for the cross-replica change check",
  sqlite(db) {
    db.exec("CREATE INDEX IF NOT EXISTS documents_updated ON documents (updated_at)");
  },
  async cosmos({ container }) {
    const { resource } = await container.read();
    if (!resource) throw new Error("container missing");
    const included = resource.indexingPolicy?.includedPaths ?? [];
    if (included.some((p) => p.path === "/updatedAt/?")) return;
    await container.replace({ ...resource, indexingPolicy: { ...COSMOS_INDEXING_POLICY, ...resource.indexingPolicy, includedPaths: [...included, { path: "/updatedAt/?" }] } });
  },
};
