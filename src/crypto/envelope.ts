/**
 * The sealed body format. A stored body becomes
 *   { "enc": "v1", "kek": "<name>/<version>", "dek": "<dek id>", "ct": base64url(iv | tag | ciphertext) }
 * AES-256-GCM under the DEK; the additional authenticated data binds the ciphertext to its document
 * (kind, lower-cased key, field), so a ciphertext moved to another document does not open.
 * `kek` records the KEK the DEK was wrapped under when this body was written (informational: the DEK
 * record is authoritative after a re-wrap); `dek` names the key; nothing is tried by guessing.
 */
import crypto from "node:crypto";
import { randomBytes } from "./random-pool.js";

export const FORMAT = "v1";
const IV = 12;
const TAG = 16;

export interface SealedBody {
  enc: typeof FORMAT;
  kek: string;
  dek: string;
  ct: string;
  [key: string]: unknown;
}

/** the only body fields a sealed document may carry in clear */
export const SEALED_BODY_FIELDS = ["enc", "kek", "dek", "ct"] as const;

export class IntegrityError extends Error {
  constructor(public readonly documentKey: string, reason: string, options?: { cause?: unknown }) {
    super(`stored data of ${documentKey} failed verification: ${reason}`, options);
    this.name = "IntegrityError";
  }
}

export const additionalData = (kind: string, key: string, field = "body"): Buffer => Buffer.from(`${FORMAT}\n${kind}\n${key.toLowerCase()}\n${field}`);

export function isSealed(body: Record<string, unknown>): body is SealedBody {
  return body.enc === FORMAT && typeof body.dek === "string" && typeof body.ct === "string";
}

export function seal(dek: Buffer, aad: Buffer, plaintext: Buffer): string {
  const iv = randomBytes(IV);
  const cipher = crypto.createCipheriv("aes-256-gcm", dek, iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64url");
}

/** throws when the ciphertext was altered, truncated, or belongs to another document */
export function open(dek: Buffer, aad: Buffer, sealed: string): Buffer {
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length < IV + TAG) throw new Error("truncated");
  const decipher = crypto.createDecipheriv("aes-256-gcm", dek, raw.subarray(0, IV));
  decipher.setAAD(aad);
  decipher.setAuthTag(raw.subarray(IV, IV + TAG));
  return Buffer.concat([decipher.update(raw.subarray(IV + TAG)), decipher.final()]);
}
