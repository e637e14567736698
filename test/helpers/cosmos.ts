/**
 * Starts @vercel/cosmosdb-server in-process over HTTPS (its own self-signed certificate) and opens
 * the real @azure/cosmos client against it. Every call gets a fresh, empty server.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import { CosmosClient } from "@azure/cosmos";
import { createHttpsServer } from "@vercel/cosmosdb-server";
import type { Clock } from "../../src/ports/clock.js";
import { CosmosStore } from "../../src/store/cosmos/cosmos-store.js";
import type { Migration } from "../../migrations/index.js";

/** the emulator's published well-known key: the test server accepts any key, this one is not a secret */
export const EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

export interface CosmosTestServer {
  endpoint: string;
  client(): CosmosClient;
  close(): Promise<void>;
}

export async function startCosmos(): Promise<CosmosTestServer> {
  const server = createHttpsServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: CosmosClient[] = [];
  return {
    endpoint,
    client() {
      const c = new CosmosClient({
        endpoint,
        key: EMULATOR_KEY,
        agent: new https.Agent({ rejectUnauthorized: false, keepAlive: true }),
        connectionPolicy: { enableEndpointDiscovery: false },
      });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.dispose();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function openCosmosStore(cosmos: CosmosTestServer, clock: Clock, migrations?: readonly Migration[], database = "kcrp", container = "resources") {
  return CosmosStore.open(cosmos.client(), database, container, clock, migrations);
}
