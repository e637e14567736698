/**
 * The store guard (deadline, breaker, write state) adds no behaviour while the engine is healthy: the
 * whole store conformance suite passes through it, on the SQLite adapter.
 */
import path from "node:path";
import t from "tap";
import { CircuitBreaker } from "../../src/ports/circuit-breaker.js";
import { GuardedStore } from "../../src/store/guarded.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { tempDir } from "../helpers/server.js";
import { conformance } from "../store/conformance.js";

conformance(t, "guarded sqlite", async (clock) => {
  const sqlite = new SqliteStore(path.join(tempDir("kcrp-guarded-"), "store.db"), clock);
  const guarded = new GuardedStore(sqlite, { deadlineMs: 5000, breaker: new CircuitBreaker("store", { failureThreshold: 5, openMs: 1000, maxOpenMs: 10_000 }) });
  return Object.assign(guarded, { migrate: () => sqlite.migrate() });
});
