/**
 * Data-encryption keys (DEKs): created, wrapped by the key provider, stored as documents beside the
 * data they protect, unwrapped on demand and cached.
 *
 * - Each partition (subscription) has a current data DEK for its ordinary documents; a pointer
 *   document names it, so a DEK rotation is a new DEK plus a pointer move.
 * - Each secrets document gets a DEK of its own (kind secretKey): destroying that document shreds the
 *   secrets, and every backup copy of them with it.
 * Wrapped DEKs are never encrypted again (they are ciphertext already); the codec skips their kinds.
 */
import crypto from "node:crypto";
import type { KekRef, KeyProvider } from "../ports/key-provider.js";
import { Collection, collectionDeps, retryOnLostRace } from "../persistence/collection.js";
import { directWriter, unitWriter, type StoreWriter } from "../persistence/writer.js";
import { isSystemKey, StoreConflictError, systemKey, type DocKind, type NewDocument, type Store, type StoredDocument } from "../store/port.js";
import { KeyCache } from "./key-cache.js";
import { randomBytes } from "./random-pool.js";

export interface DataKey {
  id: string;
  key: Buffer;
  /** the KEK version it is wrapped under (as last read) */
  kek: KekRef;
}

interface DekBody {
  kek: KekRef;
  wrapped: string;
  createdAt: number;
  [field: string]: unknown;
}

const DATA_PREFIX = "d-";
const SECRET_PREFIX = "s-";
const pointerKey = (partition: string): string => systemKey("current", partition);
const kindOfId = (id: string): DocKind => (id.startsWith(SECRET_PREFIX) ? "secretKey" : "dataKey");

export class UnknownDataKeyError extends Error {
  constructor(public readonly id: string) {
    super(`data key ${id} does not exist (destroyed or never written)`);
    this.name = "UnknownDataKeyError";
  }
}

export interface DataKeysOptions {
  cacheEntries: number;
  cacheMaxAgeMs: number;
  now: () => number;
}

export interface RewrapReport {
  scanned: number;
  rewrapped: number;
}

export class DataKeys {
  private readonly cache: KeyCache<DataKey>;
  /** partition -> current data DEK id, refreshed with the same age bound as the keys */
  private readonly current: KeyCache<string>;
  /** provider calls made, for tests and metrics */
  readonly calls = { wrap: 0, unwrap: 0 };

  constructor(
    private readonly store: Store,
    private readonly provider: KeyProvider,
    private readonly options: DataKeysOptions,
    /**
     * A secrets document's key is written through the same seam as the secrets it seals, so both
     * commit together in the request's unit of work (docs/design/persistence.md).
     */
    private readonly writer: StoreWriter = unitWriter(store),
  ) {
    this.direct = directWriter(store);
    this.cache = new KeyCache<DataKey>(options.cacheEntries, options.cacheMaxAgeMs, options.now);
    this.current = new KeyCache<string>(options.cacheEntries, options.cacheMaxAgeMs, options.now);
  }

  /**
   * A partition's keys and its pointer are written at once, outside any unit of work: the pointer's
   * race with another replica must be settled before anything is sealed under the key, and an unused
   * key left by a failed request is harmless.
   */
  private readonly direct: StoreWriter;

  private async create(kind: DocKind, id: string, partition: string, parent: string, expiresAt?: number): Promise<DataKey> {
    const key = randomBytes(32);
    this.calls.wrap++;
    const wrapped = await this.provider.wrap(key);
    const body: DekBody = { kek: wrapped.kek, wrapped: wrapped.wrapped.toString("base64"), createdAt: this.options.now() };
    await (kind === "secretKey" ? this.writer : this.direct).create({ kind, key: id, partition, parent, schemaVersion: 1, body, ...(expiresAt !== undefined ? { expiresAt } : {}) });
    const dek = { id, key, kek: wrapped.kek };
    this.cache.set(id, dek);
    return dek;
  }

  /** the partition's current data DEK, created on first use (two replicas racing agree on one) */
  async forPartition(partition: string): Promise<DataKey> {
    const cachedId = this.current.get(partition);
    if (cachedId) return this.get(partition, cachedId);
    const pointer = await this.store.get("dataKey", pointerKey(partition), partition);
    if (pointer) return this.adopt(partition, String(pointer.body.dek));
    const fresh = await this.create("dataKey", `${DATA_PREFIX}${crypto.randomUUID()}`, partition, "");
    try {
      await this.direct.create({ kind: "dataKey", key: pointerKey(partition), partition, parent: "pointer", schemaVersion: 1, body: { dek: fresh.id } });
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err;
      // another replica created the partition's key first: use theirs, drop ours
      await this.direct.delete("dataKey", fresh.id, partition);
      this.cache.delete(fresh.id);
      const winner = await this.store.get("dataKey", pointerKey(partition), partition);
      if (!winner) throw err;
      return this.adopt(partition, String(winner.body.dek));
    }
    this.current.set(partition, fresh.id);
    return fresh;
  }

  private async adopt(partition: string, id: string): Promise<DataKey> {
    this.current.set(partition, id);
    return this.get(partition, id);
  }

  /** a new DEK for one secrets document; it expires with them (Cosmos DB then deletes it on its own too) */
  newSecretKey(partition: string, parent: string, expiresAt?: number): Promise<DataKey> {
    return this.create("secretKey", `${SECRET_PREFIX}${crypto.randomUUID()}`, partition, parent, expiresAt);
  }

  /** the unwrapped DEK: from memory, else one provider call */
  async get(partition: string, id: string): Promise<DataKey> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const doc = await this.store.get(kindOfId(id), id, partition);
    if (!doc) throw new UnknownDataKeyError(id);
    const body = doc.body as DekBody;
    this.calls.unwrap++;
    const key = await this.provider.unwrap({ kek: body.kek, wrapped: Buffer.from(body.wrapped, "base64") });
    const dek = { id, key, kek: body.kek };
    this.cache.set(id, dek);
    return dek;
  }

  /** crypto-shredding: the wrapped key is deleted, so nothing it sealed can be opened again */
  async destroy(partition: string, id: string): Promise<void> {
    this.cache.delete(id);
    await this.writer.delete(kindOfId(id), id, partition);
  }

  /** DEK rotation: new writes in the partition use a new DEK; data under the old one keeps reading */
  async rotateDataKey(partition: string): Promise<string> {
    const fresh = await this.create("dataKey", `${DATA_PREFIX}${crypto.randomUUID()}`, partition, "");
    // another rotation racing this one: read the pointer again (capped: an unresolvable race is a 409)
    await retryOnLostRace(async () => {
      const pointer = await this.store.get("dataKey", pointerKey(partition), partition);
      const doc: NewDocument = { kind: "dataKey", key: pointerKey(partition), partition, parent: "pointer", schemaVersion: 1, body: { dek: fresh.id } };
      if (pointer) await this.direct.replace(doc, pointer.etag);
      else await this.direct.create(doc);
    });
    this.current.set(partition, fresh.id);
    return fresh.id;
  }

  /**
   * KEK rotation: every DEK not yet wrapped under the current KEK version is unwrapped and wrapped
   * again. Idempotent and resumable: a DEK already current is skipped, so a run that stops half-way
   * finishes on the next run. Concurrent runs are safe (a lost etag race is simply re-read).
   */
  async rewrap(onProgress?: (report: RewrapReport) => void, pageSize = 100): Promise<RewrapReport> {
    const report: RewrapReport = { scanned: 0, rewrapped: 0 };
    const target = await this.provider.current();
    for (const kind of ["dataKey", "secretKey"] as const) {
      for await (const docs of new Collection(collectionDeps(this.store), kind).pages({ scan: true }, pageSize)) {
        for (const doc of docs) {
          if (isSystemKey("current", doc.key)) continue;
          report.scanned++;
          if (await this.rewrapOne(doc, target)) report.rewrapped++;
        }
        onProgress?.({ ...report });
      }
    }
    return report;
  }

  /** one DEK wrapped again, read afresh after a lost race (another rewrap, a destroy); false when nothing was left to do */
  private async rewrapOne(doc: StoredDocument, target: KekRef): Promise<boolean> {
    let reads = 0;
    return retryOnLostRace(async () => {
      const current = reads++ === 0 ? doc : await this.store.get(doc.kind, doc.key, doc.partition);
      if (!current) return false;
      const body = current.body as DekBody;
      if (body.kek.name === target.name && body.kek.version === target.version) return false;
      this.calls.unwrap++;
      const key = await this.provider.unwrap({ kek: body.kek, wrapped: Buffer.from(body.wrapped, "base64") });
      this.calls.wrap++;
      const wrapped = await this.provider.wrap(key);
      await this.direct.replace({ ...current, body: { ...body, kek: wrapped.kek, wrapped: wrapped.wrapped.toString("base64") } }, current.etag);
      return true;
    });
  }

}
