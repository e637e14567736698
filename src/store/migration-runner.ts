/** Shared by both adapters: which migrations remain, in order. */
import type { Migration } from "../../migrations/index.js";

export function pending(all: readonly Migration[], applied: ReadonlySet<string>): Migration[] {
  return [...all].sort((a, b) => a.id.localeCompare(b.id)).filter((m) => !applied.has(m.id));
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}
