/**
 * The per-request metrics (requests by route, method, status and api-version; latency and store calls
 * per request by route and method), kept in plain per-series records keyed by the label values joined.
 *
 * prom-client's Counter.inc and Histogram.observe validate the labels, hash them and allocate a closure
 * on every call; these run on every request (three observations and one count), so they keep a map from
 * the joined label values to the series and answer the registry's `get()` in prom-client's own shape
 * (the same exposition text: buckets cumulative, `le` last, then `_sum` and `_count`). They register in
 * a prom-client Registry like any metric.
 */
import type { Metric, MetricObjectWithValues, MetricValue, MetricValueWithName, Registry } from "prom-client";

interface Series<L extends string> {
  labels: Record<L, string>;
  value: number;
}

interface HistogramSeries<L extends string> {
  labels: Record<L, string>;
  /** observations per bucket (not cumulative), the last one +Inf */
  counts: number[];
  sum: number;
  count: number;
}

/** label values joined: "\u0001" never appears in a route pattern, a method, a status or an api-version we keep */
const SEP = "\u0001";

export class RequestCounter<L extends string> {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series<L>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** counts one, for label values given in labelNames' order */
  inc(...values: string[]): void {
    const key = values.join(SEP);
    const series = this.series.get(key);
    if (series) series.value++;
    else this.series.set(key, { labels: labelsOf(this.labelNames, values), value: 1 });
  }

  async get(): Promise<MetricObjectWithValues<MetricValue<L>>> {
    return { name: this.name, help: this.help, type: "counter" as never, aggregator: "sum", collect: () => undefined, values: [...this.series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value })) };
  }

  reset(): void {
    this.series.clear();
  }
}

export class RequestHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries<L>>();
  private readonly upperBounds: number[];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.upperBounds = [...buckets].sort((a, b) => a - b);
    registry.registerMetric(this as unknown as Metric);
  }

  /** one observation, for label values given in labelNames' order */
  observe(value: number, ...values: string[]): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const key = values.join(SEP);
    let series = this.series.get(key);
    if (!series) {
      series = { labels: labelsOf(this.labelNames, values), counts: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<L | "le">>> {
    const values: MetricValueWithName<L | "le">[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.upperBounds.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.upperBounds.length ? this.upperBounds[i]! : "+Inf";
        values.push({ labels: { le, ...s.labels } as never, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels } as never, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels } as never, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram" as never, aggregator: "sum", collect: () => undefined, values };
  }

  reset(): void {
    this.series.clear();
  }
}

function labelsOf<L extends string>(names: readonly L[], values: string[]): Record<L, string> {
  if (values.length !== names.length) throw new Error(`expected ${names.length} label values, got ${values.length}`);
  const labels = {} as Record<L, string>;
  names.forEach((name, i) => (labels[name] = values[i]!));
  return labels;
}
