/**
 * A migration: one versioned, idempotent step with a part per engine. The id orders them and is
 * recorded in the database once applied; running a step twice must leave the same result.
 */
import type Database from "better-sqlite3";
import type { Container, Database as CosmosDatabase } from "@azure/cosmos";

export interface CosmosMigrationContext {
  database: CosmosDatabase;
  container: Container;
}

export interface Migration {
  /** "0001-initial-layout": sorted lexically, never renamed once released */
  id: string;
  description: string;
  sqlite(db: Database.Database): void;
  cosmos(ctx: CosmosMigrationContext): Promise<void>;
}
