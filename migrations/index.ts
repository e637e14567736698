/** Every migration, in order. Append only: an applied id is recorded and never runs again. */
import { initialLayout } from "./0001-initial-layout.js";
import type { Migration } from "./types.js";

export const MIGRATIONS: readonly Migration[] = [initialLayout];

export type { Migration, CosmosMigrationContext } from "./types.js";
