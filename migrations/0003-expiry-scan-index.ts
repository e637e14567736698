/**
 * The 48-hour sweeper reads the oldest expired documents of one kind first
 * (src/jobs/secrets-sweeper.ts): SQLite serves that scan from an index on (kind, expires_at, key) over
 * the documents that expire, in the order it wants (no sort), and purging in expiry order touches
 * the rows of one time span together (they were written together), so a batch's commit writes fewer
 * pages. It replaces the (expires_at) index, which no query used. Cosmos DB: nothing to do (its
 * default indexing policy covers the scan's filter; expired items also go by per-item ttl).
 */
import type { Migration } from "./types.js";

export const expiryScanIndex: Migration = {
  id: "0003-expiry-scan-index",
  description: "index expiring documents by (kind, expires_at, key) for the sweeper's scan",
  sqlite(db) {
    db.exec(`
      CREATE INDEX IF NOT EXISTS documents_kind_expiry ON documents (kind, expires_at, key) WHERE expires_at IS NOT NULL;
      DROP INDEX IF EXISTS documents_expiry;
    `);
  },
  async cosmos() {
    // nothing: see above
  },
};
