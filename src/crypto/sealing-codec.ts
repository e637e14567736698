/**
 * The codec that seals every customer payload before it reaches the store (either adapter), and
 * opens it on the way back. Which kinds are sealed, and which DEK each gets, is decided here:
 * - configurationSecrets: a fresh DEK per write (shredded when the secrets are replaced or deleted);
 * - subscription, cluster, configuration: the partition's current data DEK;
 * - system, dataKey, secretKey: kept as they are (internal markers; wrapped keys are ciphertext already).
 */
import type { BodyCodec, CodecEnvelope } from "../domain/repository.js";
import type { DocKind } from "../store/port.js";
import type { DataKeys } from "./data-keys.js";
import { UnknownDataKeyError } from "./data-keys.js";
import { additionalData, FORMAT, IntegrityError, isSealed, open, seal } from "./envelope.js";

const PLAIN_KINDS: ReadonlySet<DocKind> = new Set<DocKind>(["system", "dataKey", "secretKey"]);

export class SealingCodec implements BodyCodec {
  constructor(private readonly keys: DataKeys) {}

  async encode(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (PLAIN_KINDS.has(envelope.kind)) return body;
    const dek = envelope.kind === "configurationSecrets" ? await this.keys.newSecretKey(envelope.partition, envelope.parent) : await this.keys.forPartition(envelope.partition);
    const kek = `${dek.kek.name}/${dek.kek.version}`;
    const ct = seal(dek.key, additionalData(envelope.kind, envelope.key), Buffer.from(JSON.stringify(body), "utf8"));
    return { enc: FORMAT, kek, dek: dek.id, ct };
  }

  async decode(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (PLAIN_KINDS.has(envelope.kind)) return body;
    if (!isSealed(body)) throw new IntegrityError(envelope.key, "the document is not sealed");
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
    return JSON.parse(plaintext.toString("utf8")) as Record<string, unknown>;
  }

  /** the secrets a body held are gone: destroy the DEK that sealed them */
  async discard(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<void> {
    if (envelope.kind === "configurationSecrets" && isSealed(body)) await this.keys.destroy(envelope.partition, body.dek);
  }
}
