/**
 * The port through which stored bodies pass: the repository encodes every record before it reaches
 * the store and decodes it on the way back; the sealing codec (src/crypto) plugs in here.
 */
import type { DocKind } from "../store/port.js";

/** the envelope fields a codec may bind a body to */
export interface CodecEnvelope {
  kind: DocKind;
  key: string;
  partition: string;
  parent: string;
  /** the document's expiry: a key made only for it expires with it */
  expiresAt?: number;
}

/** Turns a record into a stored body and back; bound to the document it belongs to. */
export interface BodyCodec {
  encode(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  decode(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** a stored body was replaced or deleted: release what only it used (its own key, for secrets) */
  discard?(envelope: CodecEnvelope, body: Record<string, unknown>): Promise<void>;
}

/** no sealing: only for benchmarks that measure what sealing costs */
export const plainCodec: BodyCodec = {
  encode: async (_envelope, body) => body,
  decode: async (_envelope, body) => body,
};
