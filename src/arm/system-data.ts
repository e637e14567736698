/**
 * systemData: ARM sends it in x-ms-arm-resource-system-data on writes; without the header (direct
 * calls, dev mode) it comes from the verified token. A malformed header is ignored, as ARO does.
 */
import type { Principal } from "../ports/principal.js";

export type CreatedByType = "User" | "Application" | "ManagedIdentity" | "Key";

export interface SystemData {
  createdBy?: string;
  createdByType?: CreatedByType;
  createdAt?: string;
  lastModifiedBy?: string;
  lastModifiedByType?: CreatedByType;
  lastModifiedAt?: string;
}

const TYPES: readonly CreatedByType[] = ["User", "Application", "ManagedIdentity", "Key"];

export interface WriteActor {
  by: string;
  byType: CreatedByType;
  at: string;
  /** created* values ARM asserted, used only when the resource is new */
  created?: { by?: string; byType?: CreatedByType; at?: string };
}

function asType(value: unknown): CreatedByType | undefined {
  if (typeof value !== "string") return undefined;
  return TYPES.find((t) => t.toLowerCase() === value.toLowerCase());
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

export function writeActor(header: string | undefined, principal: Principal, nowIso: string): WriteActor {
  const fallback: WriteActor = { by: principal.name, byType: principal.kind, at: nowIso };
  if (!header) return fallback;
  let parsed: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(header);
    if (typeof value !== "object" || value === null) return fallback;
    parsed = value as Record<string, unknown>;
  } catch {
    return fallback;
  }
  return {
    by: str(parsed.lastModifiedBy) ?? fallback.by,
    byType: asType(parsed.lastModifiedByType) ?? fallback.byType,
    at: str(parsed.lastModifiedAt) ?? fallback.at,
    created: { by: str(parsed.createdBy), byType: asType(parsed.createdByType), at: str(parsed.createdAt) },
  };
}

/** created* is written once; lastModified* on every accepted write */
export function nextSystemData(previous: SystemData | undefined, actor: WriteActor): SystemData {
  const created = previous?.createdAt
    ? { createdBy: previous.createdBy, createdByType: previous.createdByType, createdAt: previous.createdAt }
    : { createdBy: actor.created?.by ?? actor.by, createdByType: actor.created?.byType ?? actor.byType, createdAt: actor.created?.at ?? actor.at };
  return { ...created, lastModifiedBy: actor.by, lastModifiedByType: actor.byType, lastModifiedAt: actor.at };
}
