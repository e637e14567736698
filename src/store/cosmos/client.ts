/** Builds the CosmosClient from configuration: key auth, optional private CA (the emulator's certificate). */
import fs from "node:fs";
import https from "node:https";
import { CosmosClient } from "@azure/cosmos";

export interface CosmosConnection {
  endpoint: string;
  key: string;
  caCertFile?: string;
  rejectUnauthorized?: boolean;
  /** per HTTP attempt; the client's default (60 s) would hold a socket that long on a stalled server */
  requestTimeoutMs?: number;
}

export function cosmosClient(connection: CosmosConnection): CosmosClient {
  const ca = connection.caCertFile ? fs.readFileSync(connection.caCertFile) : undefined;
  const agent = ca || connection.rejectUnauthorized === false ? new https.Agent({ keepAlive: true, ca, rejectUnauthorized: connection.rejectUnauthorized !== false }) : undefined;
  return new CosmosClient({
    endpoint: connection.endpoint,
    key: connection.key,
    ...(agent ? { agent } : {}),
    // the emulator and test servers advertise endpoints that are not reachable from here
    connectionPolicy: {
      enableEndpointDiscovery: false,
      ...(connection.requestTimeoutMs ? { requestTimeout: connection.requestTimeoutMs } : {}),
      // throttling retries stay within one deadline: past it the caller has had its 503 already
      ...(connection.requestTimeoutMs ? { retryOptions: { maxRetryAttemptCount: 3, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: Math.max(1, Math.ceil(connection.requestTimeoutMs / 1000)) } } : {}),
    },
  });
}
