/**
 * Every purge of protected settings leaves one audit line (resource id, which kinds of values, why)
 * and counts in a metric. Never a value, never a ciphertext: only names.
 */
export type PurgeReason = "expired" | "delivered";

export interface PurgeAudit {
  purged(resourceId: string, valueKinds: string[], reason: PurgeReason): void;
}

export const silentAudit: PurgeAudit = { purged: () => undefined };
