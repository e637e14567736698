/**
 * $skipToken values: the store's continuation, sealed with AES-256-GCM and bound to the list it
 * belongs to (the additional authenticated data), so a caller can neither read, forge, nor replay a
 * token against another list.
 */
import crypto from "node:crypto";
import { errors } from "./errors.js";

const IV_BYTES = 12;
const TAG_BYTES = 16;

const invalidToken = errors.invalidSkipToken;

export class SkipTokens {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error("the skip-token key must be 32 bytes");
  }

  seal(continuation: string, scope: string): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(scope.toLowerCase(), "utf8"));
    const body = Buffer.concat([cipher.update(continuation, "utf8"), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
  }

  open(token: string, scope: string): string {
    const raw = Buffer.from(token, "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES) throw invalidToken();
    try {
      const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(scope.toLowerCase(), "utf8"));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw invalidToken();
    }
  }
}
