/**
 * Keyset paging, shared by both adapters: a query asks for one row more than the page holds; that
 * row's presence says a next page exists, and the last key returned is the continuation.
 */
import type { Page, StoredDocument } from "./port.js";

export function keysetPage(rows: StoredDocument[], limit: number): Page {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return rows.length > limit && last ? { items, continuation: last.key } : { items };
}
