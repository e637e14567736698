/**
 * Creates the database and the container when absent (idempotent): partition key, indexing policy
 * and per-item TTL from migrations/cosmos-layout.ts. Everything after creation is a migration.
 */
import type { Container, CosmosClient, Database } from "@azure/cosmos";
import { COSMOS_INDEXING_POLICY, COSMOS_PARTITION_KEY_PATH } from "../../../migrations/cosmos-layout.js";

export async function bootstrapContainer(client: CosmosClient, databaseId: string, containerId: string): Promise<{ database: Database; container: Container }> {
  const { database } = await client.databases.createIfNotExists({ id: databaseId });
  const { container } = await database.containers.createIfNotExists({
    id: containerId,
    partitionKey: { paths: [COSMOS_PARTITION_KEY_PATH] },
    indexingPolicy: COSMOS_INDEXING_POLICY,
    defaultTtl: -1,
  });
  return { database, container };
}
