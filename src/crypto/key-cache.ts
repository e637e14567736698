/** Unwrapped DEKs in memory: bounded in entries (least recently used goes first) and in age. */
export class KeyCache<V> {
  private readonly entries = new Map<string, { key: V; at: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  get(id: string): V | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.maxAgeMs) {
      this.delete(id);
      return undefined;
    }
    // re-insert: Map order is the LRU order
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.key;
  }

  set(id: string, key: V): void {
    this.entries.delete(id);
    this.entries.set(id, { key, at: this.now() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
