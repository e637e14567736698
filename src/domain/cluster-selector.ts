/**
 * The one owner of what an assignment's `clusterSelector` means: its criteria, how a cluster matches
 * it, which cluster edits can change the answer, how a submitted selector is read and how it is shown.
 * Validation, cluster writes (which wake the reconciler), the assignment rules and the ARM
 * representation all ask this module, so adding a criterion here cannot be missed by one of them.
 * (The openapi document describes the same criteria; test/unit/cluster-selector.test.ts ties them.)
 */
import { quote } from "../arm/quote.js";
import type { ClusterRecord } from "./types.js";

/** the criteria, in the order they are shown */
export const SELECTOR_CRITERIA = ["tags", "distribution", "infrastructure"] as const;
export type SelectorCriterion = (typeof SELECTOR_CRITERIA)[number];

/** which clusters of the scope an assignment applies to; every criterion given must hold */
export interface ClusterSelector {
  /** each tag present with this value (keys compared case-insensitively, values exactly) */
  tags?: Record<string, string>;
  /** compared case-insensitively */
  distribution?: string;
  infrastructure?: string;
}

/** what of a cluster a selector looks at */
export type Selectable = Pick<ClusterRecord, "tags"> & { properties: Pick<ClusterRecord["properties"], "distribution" | "infrastructure"> };

const sameText = (a: string | undefined, b: string): boolean => a !== undefined && a.toLowerCase() === b.toLowerCase();

/** every criterion given holds: tags (keys case-insensitive, values exact), distribution, infrastructure; no selector selects all */
export function matches(selector: ClusterSelector | undefined, cluster: Selectable): boolean {
  if (!selector) return true;
  const tags = Object.entries(cluster.tags ?? {});
  for (const [key, value] of Object.entries(selector.tags ?? {})) {
    if (!tags.some(([k, v]) => sameText(k, key) && v === value)) return false;
  }
  if (selector.distribution !== undefined && !sameText(cluster.properties.distribution, selector.distribution)) return false;
  if (selector.infrastructure !== undefined && !sameText(cluster.properties.infrastructure, selector.infrastructure)) return false;
  return true;
}

const sortedTags = (c: Selectable): string => JSON.stringify(Object.entries(c.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * Whether an edit of a cluster may change what any selector says about it (so the assignments must
 * look at it again). Conservative: any change of a field a criterion reads counts, even one only in
 * letter case that no selector would notice.
 */
export function changed(before: Selectable, after: Selectable): boolean {
  return (
    sortedTags(before) !== sortedTags(after) ||
    before.properties.distribution !== after.properties.distribution ||
    before.properties.infrastructure !== after.properties.infrastructure
  );
}

/** one problem of a submitted selector: the criterion it concerns (none: the selector itself) and why */
export interface SelectorProblem {
  criterion?: string;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** reads a submitted selector: the selector (absent when it selects every cluster) or its problems */
export function parseSelector(raw: unknown): { selector?: ClusterSelector; problems: SelectorProblem[] } {
  const problems: SelectorProblem[] = [];
  if (raw === undefined || raw === null) return { problems };
  if (!isObject(raw)) return { problems: [{ message: "The cluster selector must be an object with 'tags', 'distribution' and/or 'infrastructure'." }] };
  const selector: ClusterSelector = {};
  if (raw.tags !== undefined && raw.tags !== null) {
    if (!isObject(raw.tags) || Object.values(raw.tags).some((v) => typeof v !== "string")) {
      problems.push({ criterion: "tags", message: "The selector's tags must map tag names to string values." });
    } else if (new Set(Object.keys(raw.tags).map((k) => k.toLowerCase())).size !== Object.keys(raw.tags).length) {
      problems.push({ criterion: "tags", message: "The selector names the same tag twice (tag names are case-insensitive)." });
    } else if (Object.keys(raw.tags).length > 0) selector.tags = { ...(raw.tags as Record<string, string>) };
  }
  for (const field of ["distribution", "infrastructure"] as const) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value.length === 0) problems.push({ criterion: field, message: `The selector's ${field} must be a non-empty string.` });
    else selector[field] = value;
  }
  for (const key of Object.keys(raw)) {
    if (!(SELECTOR_CRITERIA as readonly string[]).includes(key)) problems.push({ criterion: key, message: `The selector has no criterion ${quote(key)}; use 'tags', 'distribution' or 'infrastructure'.` });
  }
  return Object.keys(selector).length > 0 ? { selector, problems } : { problems };
}

/** the selector as shown in a representation: its criteria in their order, absent ones left out */
export function selectorView(selector: ClusterSelector | undefined): Partial<ClusterSelector> | undefined {
  if (selector === undefined) return undefined;
  const view: Partial<ClusterSelector> = {};
  for (const criterion of SELECTOR_CRITERIA) {
    const value = selector[criterion];
    if (value !== undefined) Object.assign(view, { [criterion]: value });
  }
  return view;
}
