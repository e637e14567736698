/** Every migration, in order. Append only: an applied id is recorded and never runs again. */
import { initialLayout } from "./0001-initial-layout.js";
import { updatedAtIndex } from "./0002-updated-at-index.js";
import type { Migration } from "./types.js";

export const MIGRATIONS: readonly Migration[] = [initialLayout, updatedAtIndex];

export type { Migration, CosmosMigrationContext } from "./types.js";
