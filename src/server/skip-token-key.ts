import crypto from "node:crypto";
import path from "node:path";
import { readPrivateFile, writePrivateFile } from "./secure-files.js";

/**
 * The key sealing $skipToken values. Replicas must share it (SKIP_TOKEN_KEY); a single instance
 * keeps a generated one under DATA_DIR so links stay valid across restarts.
 */
export function loadOrCreateSkipTokenKey(dataDir: string, configured: string | undefined): Buffer {
  if (configured) {
    const key = Buffer.from(configured, "base64");
    if (key.length !== 32) throw new Error("SKIP_TOKEN_KEY must be base64 of 32 bytes");
    return key;
  }
  const file = path.join(dataDir, "keys", "skip-token.key");
  const existing = readPrivateFile(file);
  if (existing) return Buffer.from(existing.trim(), "base64");
  const key = crypto.randomBytes(32);
  writePrivateFile(file, key.toString("base64"));
  return key;
}
