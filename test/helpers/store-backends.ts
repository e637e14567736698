/**
 * The two store engines a test runs on, migrated and ready, each able to open further connections to the
 * same store (a second replica, or the process after a restart). The function names give the test names
 * (`make.name.replace("Backend", "")`).
 */
import path from "node:path";
import { systemClock } from "../../src/ports/clock.js";
import type { Store } from "../../src/store/port.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "./cosmos.js";
import { tempDir } from "./server.js";

export interface Backend {
  name: string;
  /** a new connection to the same store (a replica, or the process after a restart) */
  open(): Promise<Store>;
  dataDir: string;
  close(): Promise<void>;
}

export async function sqliteBackend(): Promise<Backend> {
  const dataDir = tempDir();
  const file = path.join(dataDir, "store.db");
  const first = new SqliteStore(file, systemClock);
  await first.migrate();
  // the migrated connection is the first one handed out; later ones open the same file
  let opened: Store | undefined = first;
  return {
    name: "sqlite",
    dataDir,
    open: async () => {
      const store = opened ?? new SqliteStore(file, systemClock);
      opened = undefined;
      return store;
    },
    close: async () => undefined,
  };
}

export async function cosmosBackend(): Promise<Backend> {
  const cosmos: CosmosTestServer = await startCosmos();
  const first = await openCosmosStore(cosmos, systemClock);
  await first.migrate();
  return { name: "cosmos", dataDir: tempDir(), open: async () => openCosmosStore(cosmos, systemClock), close: () => cosmos.close() };
}
