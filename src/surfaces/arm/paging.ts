/**
 * List paging per the RPC: `{"value": [...], "nextLink": ...}`; nextLink is absolute, carries the
 * api-version (the SDK uses it verbatim) and an opaque, sealed $skipToken; absent on the last page.
 */
import { baseUrl } from "./links.js";
import type { ArmCall } from "./route-table.js";

function skipTokenParam(call: ArmCall): string | undefined {
  const value = (call.request.query as Record<string, unknown>)["$skipToken"];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** the list a token belongs to: its path, lowercased, so tokens cannot be replayed elsewhere */
const scopeOf = (call: ArmCall): string => (call.request.url.split("?")[0] ?? "").toLowerCase();

export function pageRequest(call: ArmCall): { limit: number; continuation?: string } {
  const token = skipTokenParam(call);
  const continuation = token === undefined ? undefined : call.services.skipTokens.open(token, scopeOf(call));
  return { limit: call.services.pageSize, continuation };
}

export function listBody(call: ArmCall, value: unknown[], continuation: string | undefined): { value: unknown[]; nextLink?: string } {
  if (continuation === undefined) return { value };
  const url = baseUrl(call);
  // written by hand: URLSearchParams would encode the '$' of ARM's literal `$skipToken`
  const token = call.services.skipTokens.seal(continuation, scopeOf(call));
  url.search = `?api-version=${encodeURIComponent(call.apiVersion)}&$skipToken=${encodeURIComponent(token)}`;
  return { value, nextLink: url.toString() };
}
