/** The sweeper's waves: commits sent together never share a cluster (their marker increments would race). */
import t from "tap";
import { waves } from "../../src/jobs/secrets-sweeper.js";

const chunk = (...clusters: string[]) => clusters.map((parent) => ({ doc: { parent } }));

t.test("waves keep order, respect the size, and split where two chunks touch one cluster", async (t) => {
  const chunks = [chunk("a", "b"), chunk("c"), chunk("d"), chunk("b", "e"), chunk("f"), chunk("g")];
  const out = waves(chunks, 2);
  t.same(out.map((w) => w.map((c) => c.map((o) => o.doc.parent).join(""))), [["ab", "c"], ["d", "be"], ["f", "g"]]);
  t.same(waves([chunk("a"), chunk("a"), chunk("a")], 4).length, 3, "one cluster in every chunk: one chunk a wave");
  t.same(waves([], 2), []);
  for (const wave of waves(chunks, 3)) {
    const seen = wave.flatMap((c) => c.map((o) => o.doc.parent));
    t.equal(new Set(seen).size, seen.length, "no cluster twice in a wave");
  }
});
