/**
 * Prometheus metrics: requests by route, method, status and api-version, latency histograms, and
 * store calls by operation and outcome. One registry per app instance (tests run several).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RequestCounter, RequestHistogram } from "./request-metrics.js";

/** the store calls one request made (see Metrics.storeCallsPerRequest) */
interface RequestScope {
  storeCalls: number;
}

const SCOPE = Symbol("metrics.requestScope");
type Scoped = FastifyRequest & { [SCOPE]?: RequestScope };

export class Metrics {
  readonly registry = new Registry();
  /** which request a store call belongs to: entered once per request (registerMetrics), read by recordStoreCall */
  private readonly requestScope = new AsyncLocalStorage<RequestScope>();
  // the three per-request metrics: cheap per-series records (request-metrics.ts), the same exposition as prom-client's
  readonly requests = new RequestCounter("http_requests_total", "HTTP requests answered", ["route", "method", "status", "api_version"] as const, this.registry);
  readonly latency = new RequestHistogram(
    "http_request_duration_seconds",
    "Time from request to response",
    ["route", "method"] as const,
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    this.registry,
  );
  readonly storeCalls = new Counter({
    name: "store_calls_total",
    help: "Calls made to the store",
    labelNames: ["op", "engine", "outcome"] as const,
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: "store_call_duration_seconds",
    help: "Duration of store calls",
    labelNames: ["op", "engine"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  /** store calls per request, by route pattern and method: `_sum / _count` is the mean per GET or PUT of a route */
  readonly storeCallsPerRequest = new RequestHistogram(
    "store_calls_per_request",
    "Store calls made while answering one request, by route and method",
    ["route", "method"] as const,
    [0, 1, 2, 3, 4, 6, 8, 12, 16, 32],
    this.registry,
  );

  readonly purged = new Counter({
    name: "protected_settings_purged_total",
    help: "Protected settings and known_hosts purged, by reason (expired, delivered)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  /** 1 while the store takes writes, 0 while it cannot (disk full, read-only, I/O error): reads go on */
  readonly storeWritesAvailable = new Gauge({
    name: "store_writes_available",
    help: "1 while the store accepts writes, 0 while writes answer 503 (disk full, read-only, I/O error)",
    registers: [this.registry],
  });
  /** circuit breakers in front of dependencies: 0 closed, 1 half-open (probing), 2 open (failing fast) */
  readonly breakerState = new Gauge({
    name: "dependency_circuit_state",
    help: "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open (calls fail fast with 503)",
    labelNames: ["dependency"] as const,
    registers: [this.registry],
  });
  /** per watched breaker: how many calls it refused since the last scrape */
  private readonly refusedSinceScrape: { name: string; take(): number }[] = [];
  readonly breakerRefused: Counter<"dependency"> = new Counter({
    name: "dependency_calls_refused_total",
    help: "Calls refused at once by an open circuit breaker, per dependency",
    labelNames: ["dependency"] as const,
    registers: [this.registry],
    // read at scrape time: the breaker counts, the metric follows
    collect: () => {
      for (const b of this.refusedSinceScrape) this.breakerRefused.inc({ dependency: b.name }, b.take());
    },
  });
  readonly logLinesDropped = new Counter({
    name: "log_lines_dropped_total",
    help: "Log lines dropped because the log sink could not be written (full disk, closed pipe, stalled reader)",
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    this.storeWritesAvailable.set(1);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** follows a breaker's state (gauge) and its refusals (counter, read at scrape time) */
  watchBreaker(breaker: { name: string; state: string; refused: number; onStateChange(l: (state: string) => void): void }): void {
    const code = (state: string) => (state === "open" ? 2 : state === "halfOpen" ? 1 : 0);
    this.breakerState.set({ dependency: breaker.name }, code(breaker.state));
    breaker.onStateChange((state) => this.breakerState.set({ dependency: breaker.name }, code(state)));
    let counted = 0;
    this.refusedSinceScrape.push({
      name: breaker.name,
      take: () => {
        const delta = breaker.refused - counted;
        counted = breaker.refused;
        return delta;
      },
    });
    this.breakerRefused.inc({ dependency: breaker.name }, 0);
  }

  /** runs `next` (the rest of the request's hooks and its handler) in a scope that counts its store calls */
  enterRequest(request: FastifyRequest, next: () => void): void {
    const scope: RequestScope = { storeCalls: 0 };
    (request as Scoped)[SCOPE] = scope;
    this.requestScope.run(scope, next);
  }

  /** the store calls the request made so far (undefined for a request that was not scoped) */
  storeCallsOf(request: FastifyRequest): number | undefined {
    return (request as Scoped)[SCOPE]?.storeCalls;
  }

  recordStoreCall(op: string, engine: string, durationMs: number, outcome: string): void {
    const scope = this.requestScope.getStore();
    if (scope) scope.storeCalls++;
    this.storeCalls.inc({ op, engine, outcome });
    this.storeLatency.observe({ op, engine }, durationMs / 1000);
  }
}

export function registerMetrics(app: FastifyInstance, metrics: Metrics): void {
  // callback style: the hooks and handler that follow run inside the scope (an async hook would leave it)
  app.addHook("onRequest", (request, _reply, done) => metrics.enterRequest(request, done));
  // callback style too: no promise per request
  app.addHook("onResponse", (request, reply, done) => {
    // the route pattern, never the raw URL: ids in paths would explode label cardinality
    const route = request.routeOptions.url ?? "unmatched";
    const query = request.query as Record<string, unknown> | undefined;
    const apiVersion = typeof query?.["api-version"] === "string" ? (query["api-version"] as string) : "none";
    const method = request.method;
    metrics.requests.inc(route, method, String(reply.statusCode), apiVersion.slice(0, 32));
    metrics.latency.observe(reply.elapsedTime / 1000, route, method);
    const storeCalls = metrics.storeCallsOf(request);
    if (storeCalls !== undefined) metrics.storeCallsPerRequest.observe(storeCalls, route, method);
    done();
  });
  app.get("/metrics", { config: { operationId: "Ops_Metrics" } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
