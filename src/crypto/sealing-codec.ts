/**
 * The codec that seals every customer payload before it reaches the store (either adapter), and
 * opens it on the way back. Which kinds are sealed, and which DEK each gets, is decided here:
 * - configurationSecrets: a fresh DEK per write (shredded when the secrets are replaced or deleted);
 * - subscription, cluster, configuration: the partition's current data DEK;
 * - system, dataKey, secretKey: kept as they are (internal markers; wrapped keys are ciphertext already).
 */
import type { BodyCodec, CodecEnvelope } from "../ports/body-codec.js";
import type { DataKeys } from "./data-keys.js";
import { UnknownDataKeyError } from "./data-keys.js";
import { KeyCache } from "./key-cache.js";
import { additionalData, FORMAT, IntegrityError, isSealed, open, seal } from "./envelope.js";

/** the kinds kept as they are (the store port's DocKind, named through the codec port) */
const PLAIN_KINDS: ReadonlySet<CodecEnvelope["kind"]> = new Set<CodecEnvelope["kind"]>(["system", "dataKey", "secretKey", "clusterWork"]);

export class SealingCodec implements BodyCodec {
  /**
   * Verified plaintexts of recent reads and writes, one entry per document (its latest version seen:
   * a rewrite replaces the entry instead of adding one), so a hot resource is not decrypted on every
   * GET. A hit counts only for the very same data key and ciphertext, compared in full. Secrets are
   * never kept here.
   */
  private readonly opened: KeyCache<{ dek: string; ct: string; text: string }>;

  constructor(
    private readonly keys: DataKeys,
    cache: { entries: number; maxAgeMs: number; now: () => number } = { entries: 10_000, maxAgeMs: 60_000, now: Date.now },
  ) {
    this.opened = new KeyCache<{ dek: string; ct: string; text: string }>(cache.entries, cache.maxAgeMs, cache.now);
  }

  async encode(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (PLAIN_KINDS.has(envelope.kind)) return body;
    const dek = envelope.kind === "configurationSecrets" ? await this.keys.newSecretKey(envelope.partition, envelope.parent, envelope.expiresAt) : await this.keys.forPartition(envelope.partition);
    const kek = `${dek.kek.name}/${dek.kek.version}`;
    const text = JSON.stringify(body);
    const ct = seal(dek.key, additionalData(envelope.kind, envelope.key), Buffer.from(text, "utf8"));
    // what was just written is what the next read of it will open: remember it (never for secrets)
    if (envelope.kind !== "configurationSecrets") this.opened.set(this.cacheKey(envelope), { dek: dek.id, ct, text });
    return { enc: FORMAT, kek, dek: dek.id, ct };
  }

  async decode(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (PLAIN_KINDS.has(envelope.kind)) return body;
    if (!isSealed(body)) throw new IntegrityError(envelope.key, "the document is not sealed");
    const cacheable = envelope.kind !== "configurationSecrets";
    const cacheKey = this.cacheKey(envelope);
    const hit = cacheable ? this.opened.get(cacheKey) : undefined;
    // a hit counts only for the very same key and ciphertext, compared in full: an altered byte is never served from memory
    if (hit !== undefined && hit.ct === body.ct && hit.dek === body.dek) return JSON.parse(hit.text) as Record<string, unknown>;
    let dek: Buffer;
    try {
      dek = (await this.keys.get(envelope.partition, body.dek)).key;
    } catch (err) {
      if (err instanceof UnknownDataKeyError) throw new IntegrityError(envelope.key, "its data key does not exist", { cause: err });
      throw err;
    }
    let plaintext: Buffer;
    try {
      plaintext = open(dek, additionalData(envelope.kind, envelope.key), body.ct);
    } catch (err) {
      throw new IntegrityError(envelope.key, "the ciphertext does not verify (altered, truncated, or moved from another document)", { cause: err });
    }
    const text = plaintext.toString("utf8");
    if (cacheable) this.opened.set(cacheKey, { dek: body.dek, ct: body.ct, text });
    return JSON.parse(text) as Record<string, unknown>;
  }

  private cacheKey(envelope: CodecEnvelope): string {
    // the document (what the ciphertext's authenticated data binds it to); hits are confirmed on key and ciphertext
    return `${envelope.kind}\n${envelope.key}`;
  }

  /** the secrets a body held are gone: destroy the DEK that sealed them */
  async discard(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<void> {
    if (envelope.kind === "configurationSecrets" && isSealed(body)) await this.keys.destroy(envelope.partition, body.dek);
  }
}
