/**
 * ETags and conditional requests (RFC 9110 §8.8.3, §13.1): the one parser of If-Match / If-None-Match
 * for the ARM surface (PUT and DELETE, 412 on mismatch, the ARM RPC Addendum) and the agent API
 * (GET, 304 when any listed tag matches).
 */
import { errors } from "./errors.js";

/** the header value for a store etag: always a quoted strong tag */
export function etagHeader(storeEtag: string): string {
  return `"${storeEtag.replace(/^"|"$/g, "")}"`;
}

export interface EntityTag {
  weak: boolean;
  /** the opaque tag without quotes */
  opaque: string;
}

/** a parsed If-Match / If-None-Match value: "*" or a list of entity-tags */
export type TagCondition = { any: true } | { any: false; tags: EntityTag[] };

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc excludes DQUOTE; lists are comma-separated
const ENTITY_TAG = /^\s*(W\/)?"([^"]*)"\s*(?:,|$)/;

/**
 * Parses a condition header. A malformed member ends the parse there: what was read stands (RFC 9110
 * asks recipients to be lenient; an unquoted tag, as some clients send, is read as a strong tag).
 */
export function parseTagCondition(header: string): TagCondition {
  const value = header.trim();
  if (value === "*") return { any: true };
  const tags: EntityTag[] = [];
  let rest = value;
  while (rest.trim().length > 0) {
    const m = ENTITY_TAG.exec(rest);
    if (m) {
      tags.push({ weak: m[1] !== undefined, opaque: m[2] ?? "" });
      rest = rest.slice(m[0].length);
      continue;
    }
    // lenient: an unquoted member up to the next comma
    const comma = rest.indexOf(",");
    const member = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    if (member === "*") return { any: true };
    if (member.length > 0 && !member.includes('"')) tags.push({ weak: false, opaque: member.replace(/^W\//, "") });
    if (comma < 0) break;
    rest = rest.slice(comma + 1);
  }
  return { any: false, tags };
}

const opaqueOf = (etag: string): string => etag.replace(/^W\//, "").replace(/^"|"$/g, "");

/**
 * Whether a condition matches the current tag. Weak comparison (If-None-Match): the opaque tags are
 * equal, W/ or not. Strong comparison (If-Match): both tags strong and equal; this service only
 * issues strong tags, so a W/ tag in If-Match never matches.
 */
export function conditionMatches(condition: TagCondition, current: string, comparison: "weak" | "strong"): boolean {
  if (condition.any) return true;
  const opaque = opaqueOf(current);
  return condition.tags.some((t) => t.opaque === opaque && (comparison === "weak" || !t.weak));
}

export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

const present = (header: string | undefined): header is string => header !== undefined && header.trim() !== "";

/** PUT: If-Match needs an existing resource with a matching tag; If-None-Match "*" (or a match) needs none. */
export function checkPutConditions(conditions: Conditions, currentEtag: string | undefined): void {
  const { ifMatch, ifNoneMatch } = conditions;
  if (present(ifMatch)) {
    if (currentEtag === undefined || !conditionMatches(parseTagCondition(ifMatch), currentEtag, "strong")) throw errors.preconditionFailed("If-Match");
  }
  if (present(ifNoneMatch) && currentEtag !== undefined && conditionMatches(parseTagCondition(ifNoneMatch), currentEtag, "weak")) {
    throw errors.preconditionFailed("If-None-Match");
  }
}

/**
 * DELETE: If-Match needs an existing resource with a matching tag, as on PUT (RFC 9110: If-Match,
 * even "*", fails on a missing resource): a missing resource is 412 under If-Match, 204 without.
 */
export function checkDeleteConditions(conditions: Conditions, currentEtag: string | undefined): void {
  const { ifMatch } = conditions;
  if (present(ifMatch) && (currentEtag === undefined || !conditionMatches(parseTagCondition(ifMatch), currentEtag, "strong"))) {
    throw errors.preconditionFailed("If-Match");
  }
}

/** whether the caller set a condition, in which case a lost race is the caller's 412, not a silent retry */
export const hasConditions = (c: Conditions): boolean => Boolean(c.ifMatch) || Boolean(c.ifNoneMatch);
