/**
 * Protected settings and known_hosts of a configuration, kept apart from it: each document sealed
 * under a data key of its own, expiring with its retention window; destroying that key shreds them
 * (docs/design/retention.md). Also the expired documents and orphaned keys the 48-hour sweeper purges.
 */
import { keyOf, partitionOf } from "../arm/resource-ids.js";
import type { ConfigurationRecord, ConfigurationSecrets, FluxConfigurationRecord } from "../domain/types.js";

/** whose secrets: a Flux v1 configuration or a Flux v2 fluxConfiguration (their ids differ: one collection holds both) */
export type SecretsOwner = Pick<ConfigurationRecord, "id" | "clusterId"> | Pick<FluxConfigurationRecord, "id" | "clusterId">;
import type { StoredDocument } from "../store/port.js";
import { Collection, lostRace, type CollectionDeps, type Place, type Versioned } from "./collection.js";

/** the 48-hour promise: protected settings and known_hosts are never kept longer (and by default this long) */
export const SECRETS_RETENTION_MAX_MS = 48 * 3600_000;

export class Secrets {
  private readonly secrets: Collection<ConfigurationSecrets>;
  /** the data keys of secrets documents (written by key storage; here only found expired and removed) */
  private readonly keys: Collection<Record<string, unknown>>;

  constructor(
    private readonly deps: CollectionDeps,
    private readonly retentionMs: number = SECRETS_RETENTION_MAX_MS,
  ) {
    this.secrets = new Collection<ConfigurationSecrets>(deps, "configurationSecrets");
    this.keys = new Collection<Record<string, unknown>>(deps, "secretKey");
  }

  /** the secrets expire with their retention window: every read path treats them as absent after it */
  private place(subscriptionId: string, configuration: SecretsOwner, submittedAt: number): Place {
    return { key: keyOf(configuration.id), partition: partitionOf(subscriptionId), parent: keyOf(configuration.clusterId), expiresAt: submittedAt + this.retentionMs };
  }

  /** their key first: once it is gone the secrets cannot be opened, whatever happens next */
  private async shred(doc: StoredDocument): Promise<void> {
    await this.deps.codec.discard?.(doc, doc.body);
  }

  get(subscriptionId: string, configurationId: string): Promise<Versioned<ConfigurationSecrets> | undefined> {
    return this.secrets.get(keyOf(configurationId), partitionOf(subscriptionId));
  }

  /** live secrets by lower-cased configuration id, with their expiry */
  async getMany(subscriptionId: string, configurationIds: string[]): Promise<Map<string, { secrets: ConfigurationSecrets; expiresAt?: number }>> {
    const docs = await this.secrets.documents(configurationIds.map(keyOf), partitionOf(subscriptionId));
    const entries = await Promise.all(docs.map(async (doc) => [doc.key, { secrets: (await this.secrets.decode(doc)).record, expiresAt: doc.expiresAt }] as const));
    return new Map(entries);
  }

  /**
   * Seals the secrets now (with a key of their own); the returned write replaces whatever secrets the
   * configuration had (a PUT is a full replace) and then destroys the key of the replaced ones.
   */
  async prepare(subscriptionId: string, configuration: SecretsOwner, secrets: ConfigurationSecrets): Promise<() => Promise<void>> {
    const doc = await this.secrets.encodeFor(this.place(subscriptionId, configuration, secrets.submittedAt), secrets);
    return async () => {
      const previous = await this.secrets.putEncoded(doc);
      if (previous) await this.shred(previous);
    };
  }

  /** deletes the secrets and destroys their key; true when there were secrets to delete */
  async delete(subscriptionId: string, configurationId: string): Promise<boolean> {
    const previous = await this.secrets.document(keyOf(configurationId), partitionOf(subscriptionId));
    if (!previous) return false;
    await this.shred(previous);
    // by etag: secrets a concurrent PUT just wrote (with a new key) are not ours to delete
    return this.secrets.deleteIfUnchanged(previous);
  }

  /** the first page of expired secrets documents (what was purged no longer matches: no cursor needed) */
  async expired(limit: number): Promise<StoredDocument[]> {
    return (await this.secrets.pageOf({ scan: true, expired: true }, limit)).items;
  }

  /**
   * Purge of one expired secrets document found by the sweeper: destroy its key (crypto-shredding)
   * and delete the document by etag. Run inside `Persistence.atomically`, both writes are staged and
   * go in the unit's one commit (the sweeper stages a batch of documents per commit); a document
   * replaced or deleted meanwhile fails that commit at its etag (`secretsMoved`). Outside a unit the
   * key goes first: once it is gone the secrets cannot be opened, whatever happens next. Idempotent:
   * a second sweeper, or a rerun after a crash, finds the work done.
   */
  async purgeExpired(doc: StoredDocument): Promise<boolean> {
    await this.shred(doc);
    // replaced meanwhile by a new PUT: not ours to purge
    return this.secrets.deleteIfUnchanged(doc);
  }

  /** whether a lost race was on a secrets document itself (replaced or deleted meanwhile: not ours to purge any more) */
  secretsMoved(err: unknown): boolean {
    return lostRace(err) && (err as { kind?: unknown }).kind === "configurationSecrets";
  }

  /** the first page of expired secret keys whose secrets went another way (replaced after expiry, a crash) */
  async expiredKeys(limit: number): Promise<StoredDocument[]> {
    return (await this.keys.pageOf({ scan: true, expired: true }, limit)).items;
  }

  /** destroys one expired key as it was found; false when it changed or went (or the store refused: the next sweep retries) */
  destroyExpiredKey(doc: StoredDocument): Promise<boolean> {
    return this.keys.delete(doc.key, doc.partition, doc.etag).catch(() => false);
  }

  /** after a purge: deleted content made unrecoverable from the engine's own files (SQLite's WAL) */
  compact(): Promise<void> {
    return this.deps.store.compact();
  }
}
