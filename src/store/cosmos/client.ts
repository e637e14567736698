/** Builds the CosmosClient from configuration: key auth, optional private CA (the emulator's certificate). */
import fs from "node:fs";
import https from "node:https";
import { CosmosClient } from "@azure/cosmos";

export interface CosmosConnection {
  endpoint: string;
  key: string;
  caCertFile?: string;
  rejectUnauthorized?: boolean;
}

export function cosmosClient(connection: CosmosConnection): CosmosClient {
  const ca = connection.caCertFile ? fs.readFileSync(connection.caCertFile) : undefined;
  const agent = ca || connection.rejectUnauthorized === false ? new https.Agent({ keepAlive: true, ca, rejectUnauthorized: connection.rejectUnauthorized !== false }) : undefined;
  return new CosmosClient({
    endpoint: connection.endpoint,
    key: connection.key,
    ...(agent ? { agent } : {}),
    // the emulator and test servers advertise endpoints that are not reachable from here
    connectionPolicy: { enableEndpointDiscovery: false },
  });
}
