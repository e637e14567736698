/**
 * The per-request metrics (src/ops/request-metrics.ts) expose exactly what prom-client's Counter and
 * Histogram would for the same observations: same lines, same order, same values, same labels.
 */
import t from "tap";
import { Counter, Histogram, Registry } from "prom-client";
import { RequestCounter, RequestHistogram } from "../../src/ops/request-metrics.js";

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const observations: [number, string, string][] = [
  [0.0004, "/a/:id", "GET"],
  [0.001, "/a/:id", "GET"], // on a bound: counted in that bucket (le is inclusive)
  [0.003, "/a/:id", "GET"],
  [7, "/a/:id", "GET"], // above every bound: only +Inf
  [0.02, "/a/:id", "PUT"],
  [0.2, 'un"usual\\route\n', "GET"], // escaped like prom-client escapes label values
];

t.test("a histogram's exposition text is prom-client's", async (t) => {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: "h_seconds", help: "help", labelNames: ["route", "method"], buckets, registers: [theirs] });
  const fast = new RequestHistogram("h_seconds", "help", ["route", "method"], buckets, ours);
  for (const [v, route, method] of observations) {
    reference.observe({ route, method }, v);
    fast.observe(v, route, method);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
  t.same((await fast.get()).values, (await reference.get()).values.map((v) => { const { exemplar: _, ...rest } = v as typeof v & { exemplar?: unknown }; return rest; }));
  t.throws(() => fast.observe(Number.NaN, "/a", "GET"), TypeError);
  fast.reset();
  reference.reset();
  t.equal(await ours.metrics(), await theirs.metrics());
});

t.test("a counter's exposition text is prom-client's", async (t) => {
  const theirs = new Registry();
  const ours = new Registry();
  const labelNames = ["route", "method", "status", "api_version"] as const;
  const reference = new Counter({ name: "c_total", help: "help", labelNames, registers: [theirs] });
  const fast = new RequestCounter("c_total", "help", labelNames, ours);
  const calls: [string, string, string, string][] = [
    ["/a", "GET", "200", "2024-01-01"],
    ["/a", "GET", "200", "2024-01-01"],
    ["/a", "GET", "404", "none"],
    ["unmatched", "POST", "404", "none"],
  ];
  for (const [route, method, status, api_version] of calls) {
    reference.inc({ route, method, status, api_version });
    fast.inc(route, method, status, api_version);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
  t.throws(() => fast.inc("/a", "GET"), /expected 4 label values/);
});
