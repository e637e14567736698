/**
 * Unwrapped DEKs in memory: bounded in entries by lru-cache (least recently used goes first) and in
 * age, measured from when the key was unwrapped on the injected clock (not refreshed by use: a key
 * disabled in the vault stops working within maxAgeMs however busy it is).
 */
import { LRUCache } from "lru-cache";

export class KeyCache<V extends {}> {
  private readonly entries: LRUCache<string, { key: V; at: number }>;

  constructor(
    maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {
    this.entries = new LRUCache({ max: maxEntries });
  }

  get(id: string): V | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.maxAgeMs) {
      this.delete(id);
      return undefined;
    }
    return entry.key;
  }

  set(id: string, key: V): void {
    this.entries.set(id, { key, at: this.now() });
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
