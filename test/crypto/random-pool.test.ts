/**
 * The pooled random bytes behind IVs and data keys: never the same bytes twice (across many refills
 * of the pool), each caller's buffer its own, sizes as asked.
 */
import t from "tap";
import { randomBytes } from "../../src/crypto/random-pool.js";

t.test("every draw is fresh: 100,000 IVs and keys across many pool refills, no repeat", async (t) => {
  const seen = new Set<string>();
  let draws = 0;
  for (let i = 0; i < 50_000; i++) {
    for (const size of [12, 32]) {
      const b = randomBytes(size);
      if (b.length !== size) t.fail(`asked ${size}, got ${b.length}`);
      seen.add(b.toString("hex"));
      draws++;
    }
  }
  t.equal(seen.size, draws, "no two draws equal (a repeated IV under one GCM key would be fatal)");
});

t.test("a draw is the caller's own: changing it changes no other, and it holds no pool around it", async (t) => {
  const a = randomBytes(12);
  const copy = Buffer.from(a);
  const b = randomBytes(12);
  b.fill(0);
  t.same(a, copy, "zeroing one draw leaves another as it was");
  const key = randomBytes(32);
  t.equal(key.buffer.byteLength, 32, "memory of its own: not a view into the pool or a shared slab that a cached key would keep alive");
  t.not(key.toString("hex"), "00".repeat(32), "not the zeroed pool bytes");
});

t.test("large requests go straight to the CSPRNG", async (t) => {
  const big = randomBytes(4096);
  t.equal(big.length, 4096);
  t.not(big.toString("hex"), randomBytes(4096).toString("hex"));
});
