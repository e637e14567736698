/** Picks and opens the configured adapter; runs pending migrations when asked to. */
import type { StoreSettings } from "../config.js";
import type { Clock } from "../ports/clock.js";
import type { MigrationReport } from "./migration-runner.js";
import type { Store } from "./port.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";

export type MigratableStore = Store & { migrate(): Promise<MigrationReport> };

export async function openStore(settings: StoreSettings, clock: Clock): Promise<MigratableStore> {
  if (settings.engine === "sqlite") return new SqliteStore(settings.path, clock);
  // loaded only when chosen: @azure/cosmos alone costs ~0.5 s of start-up for the embedded default
  const [{ cosmosClient }, { CosmosStore }] = await Promise.all([import("./cosmos/client.js"), import("./cosmos/cosmos-store.js")]);
  return CosmosStore.open(cosmosClient(settings), settings.database, settings.container, clock);
}

export async function createStore(settings: StoreSettings, clock: Clock, options: { runMigrationsAtStartup: boolean }): Promise<MigratableStore> {
  const store = await openStore(settings, clock);
  if (options.runMigrationsAtStartup) await store.migrate();
  return store;
}
