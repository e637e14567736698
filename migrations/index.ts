/** Every migration, in order. Append only: an applied id is recorded and never runs again. */
import { initialLayout } from "./0001-initial-layout.js";
import { updatedAtIndex } from "./0002-updated-at-index.js";
import { expiryScanIndex } from "./0003-expiry-scan-index.js";
import type { Migration } from "./types.js";

export const MIGRATIONS: readonly Migration[] = [initialLayout, updatedAtIndex, expiryScanIndex];

export type { Migration, CosmosMigrationContext } from "./types.js";
