/**
 * The Cosmos DB container layout. Partition key: the lowercased subscription id (see
 * docs/design/storage.md for the numbers): every ARM request is scoped to one subscription, so every
 * point read, list and cascade stays in one logical partition. Only envelope fields are indexed;
 * the body is opaque (and encrypted by issue #3), so indexing it would only cost RU.
 */
import type { IndexingPolicy } from "@azure/cosmos";

export const COSMOS_PARTITION_KEY_PATH = "/partition";

export const COSMOS_INDEXING_POLICY: IndexingPolicy = {
  indexingMode: "consistent",
  automatic: true,
  // updatedAt: the cross-replica change check (migration 0002 adds it to containers created before it)
  includedPaths: [{ path: "/kind/?" }, { path: "/key/?" }, { path: "/parent/?" }, { path: "/deleted/?" }, { path: "/expiresAt/?" }, { path: "/updatedAt/?" }],
  excludedPaths: [{ path: "/*" }],
  compositeIndexes: [
    [
      { path: "/kind", order: "ascending" },
      { path: "/parent", order: "ascending" },
      { path: "/key", order: "ascending" },
    ],
  ],
};
