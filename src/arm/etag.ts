/**
 * ETags and the conditional-request table of the ARM RPC (Addendum): If-Match / If-None-Match on PUT
 * and DELETE, 412 on mismatch.
 */
import { errors } from "./errors.js";

/** the header value for a store etag: always a quoted strong tag */
export function etagHeader(storeEtag: string): string {
  return `"${storeEtag.replace(/^"|"$/g, "")}"`;
}

function parseList(header: string): string[] {
  return header
    .split(",")
    .map((s) => s.trim().replace(/^W\//, ""))
    .filter((s) => s.length > 0);
}

export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/** PUT: If-Match needs an existing resource with a matching tag; If-None-Match "*" needs none. */
export function checkPutConditions(conditions: Conditions, currentEtag: string | undefined): void {
  const { ifMatch, ifNoneMatch } = conditions;
  if (ifMatch !== undefined && ifMatch !== "") {
    if (currentEtag === undefined) throw errors.preconditionFailed("If-Match");
    const tags = parseList(ifMatch);
    if (!tags.includes("*") && !tags.includes(etagHeader(currentEtag))) throw errors.preconditionFailed("If-Match");
  }
  if (ifNoneMatch !== undefined && ifNoneMatch !== "" && currentEtag !== undefined) {
    const tags = parseList(ifNoneMatch);
    if (tags.includes("*") || tags.includes(etagHeader(currentEtag))) throw errors.preconditionFailed("If-None-Match");
  }
}

/**
 * DELETE: If-Match needs an existing resource with a matching tag, as on PUT (RFC 9110: If-Match,
 * even "*", fails on a missing resource): a missing resource is 412 under If-Match, 204 without.
 */
export function checkDeleteConditions(conditions: Conditions, currentEtag: string | undefined): void {
  const { ifMatch } = conditions;
  if (ifMatch === undefined || ifMatch === "") return;
  if (currentEtag === undefined) throw errors.preconditionFailed("If-Match");
  const tags = parseList(ifMatch);
  if (!tags.includes("*") && !tags.includes(etagHeader(currentEtag))) throw errors.preconditionFailed("If-Match");
}

/** whether the caller set a condition, in which case a lost race is the caller's 412, not a silent retry */
export const hasConditions = (c: Conditions): boolean => Boolean(c.ifMatch) || Boolean(c.ifNoneMatch);
