/**
 * Random bytes for IVs and data keys, drawn from the CSPRNG in blocks and handed out in slices.
 *
 * Why: a sealed PUT with secrets needs four small draws (two body IVs, a DEK, the DEK's wrap IV); each
 * `crypto.randomBytes` is a native call into OpenSSL's DRBG, and under load the profile charged ~20 µs
 * to each. One `randomFillSync` of POOL_BYTES serves ~60 such PUTs. (Node does the same for
 * `crypto.randomUUID`, which keeps a cache of random bytes for 128 UUIDs.)
 *
 * Why it is safe — every byte is handed out at most once, and nothing else ever sees it:
 * - the offset only moves forward; a spent block is dropped and a *new* buffer is drawn, never refilled
 *   in place, so no slice handed out earlier can change or be handed out again (an AES-GCM IV used
 *   twice under one key would reveal the XOR of two plaintexts and the authentication key: fatal);
 * - the caller gets its own copy, and the pool's bytes are zeroed as they are taken, so a data key
 *   never lingers in the pool nor keeps it alive;
 * - the bytes are the CSPRNG's own output, unchanged: holding them a while before use makes them no
 *   more predictable (reading this process's memory would reveal the keys themselves anyway);
 * - module state belongs to one V8 isolate: worker threads each get their own pool, and Node never
 *   fork()s a running process (cluster workers and child processes start from scratch), so no two
 *   processes or threads can share a block.
 * Synchronous (no await between taking and advancing), so concurrent requests cannot take the same slice.
 */
import crypto from "node:crypto";

const POOL_BYTES = 4096;
/** larger requests go straight to the CSPRNG (the pool is for IVs and keys) */
const MAX_POOLED = 64;

let pool = Buffer.alloc(0);
let offset = 0;

/** `size` fresh random bytes in a buffer of their own */
export function randomBytes(size: number): Buffer {
  if (size > MAX_POOLED) return crypto.randomBytes(size);
  if (offset + size > pool.length) {
    pool = crypto.randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    offset = 0;
  }
  const start = offset;
  offset += size;
  // memory of its own (as crypto.randomBytes gives): a cached data key must not pin Node's shared 8 KiB slab
  const out = Buffer.allocUnsafeSlow(size);
  pool.copy(out, 0, start, offset);
  pool.fill(0, start, offset);
  return out;
}
