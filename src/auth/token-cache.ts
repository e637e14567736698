/**
 * Verified tokens, remembered until they expire, so that signature checks do not dominate the cost
 * of cheap requests. Bounded by lru-cache (least recently used goes first, as every cache of the
 * service); expiry is the token's own, checked against the caller's clock (never lru-cache's).
 */
import { LRUCache } from "lru-cache";

export class TokenCache<T extends object> {
  private readonly entries: LRUCache<string, { value: T; expiresAt: number }>;

  constructor(maxEntries: number) {
    this.entries = new LRUCache({ max: maxEntries });
  }

  get(token: string, now: number): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  set(token: string, value: T, expiresAt: number): void {
    this.entries.set(token, { value, expiresAt });
  }
}
