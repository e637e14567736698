/**
 * Sums a V8 heap snapshot by constructor (objects, closures, native) or node type (strings, code,
 * arrays...): self size and count, largest first. With a second snapshot and a cluster count, prints
 * the growth between the two per cluster: which constructors hold what each added cluster costs.
 * usage: node --max-old-space-size=12000 --import tsx bench/heap-aggregate.ts <a.heapsnapshot> [<b.heapsnapshot> <clusters between>] [top=40]
 * (bench:fleet writes the snapshots with FLEET_HEAP_SNAPSHOT=<dir>)
 */
import fs from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

type Totals = Map<string, { size: number; count: number }>;

function aggregate(file: string): { totals: Totals; size: number } {
  const s = JSON.parse(fs.readFileSync(file, "utf8")) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const F = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const totals: Totals = new Map();
  let size = 0;
  for (let i = 0; i < s.nodes.length; i += F) {
    const type = types[s.nodes[i + iType] as number] as string;
    const name = s.strings[s.nodes[i + iName] as number] as string;
    const key =
      type === "object" || type === "native" || type === "closure"
        ? `${type}:${name.slice(0, 80)}`
        : type === "string" || type === "concatenated string" || type === "sliced string"
          ? `${type}`
          : type === "array" || type === "hidden"
            ? `${type}:${name.slice(0, 40)}`
            : type;
    const self = s.nodes[i + iSize] as number;
    size += self;
    const t = totals.get(key) ?? { size: 0, count: 0 };
    t.size += self;
    t.count++;
    totals.set(key, t);
  }
  return { totals, size };
}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const [a, b, between, topArg] = process.argv.slice(2);
if (!a) throw new Error("usage: heap-aggregate.ts <a.heapsnapshot> [<b.heapsnapshot> <clusters between>] [top]");
const top = Number((b ? topArg : between) ?? 40);
const first = aggregate(a);
console.log(`${a}: ${MiB(first.size)} self size in all`);
for (const [k, t] of [...first.totals].sort((x, y) => y[1].size - x[1].size).slice(0, top)) console.log(`${MiB(t.size).padStart(12)} ${String(t.count).padStart(9)}  ${k}`);
if (b && between) {
  const n = Number(between);
  const second = aggregate(b);
  console.log(`\n${b}: ${MiB(second.size)} self size in all; growth ${MiB(second.size - first.size)} = ${((second.size - first.size) / n).toFixed(0)} bytes per cluster over ${n} clusters`);
  const keys = new Set([...first.totals.keys(), ...second.totals.keys()]);
  const diff = [...keys].map((k) => {
    const x = first.totals.get(k) ?? { size: 0, count: 0 };
    const y = second.totals.get(k) ?? { size: 0, count: 0 };
    return { k, size: y.size - x.size, count: y.count - x.count };
  });
  console.log("bytes/cluster  objects/cluster  constructor or type");
  for (const d of diff.sort((x, y) => Math.abs(y.size) - Math.abs(x.size)).slice(0, top))
    console.log(`${(d.size / n).toFixed(1).padStart(13)} ${(d.count / n).toFixed(2).padStart(16)}  ${d.k}`);
}
