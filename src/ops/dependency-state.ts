/**
 * What the operator sees of a dependency's state (issue #17): a metric that follows it and one log
 * line per change — never one per request. Wired by app.ts for the store guard and every breaker.
 */
import type { CircuitBreaker } from "../ports/circuit-breaker.js";
import type { GuardedStore } from "../store/guarded.js";
import type { Metrics } from "./metrics.js";

export type StateLog = (level: "info" | "warn", message: string, fields: Record<string, unknown>) => void;

const reasonOf = (cause: unknown): string | undefined => (cause instanceof Error ? cause.message.slice(0, 200) : undefined);

export function watchBreaker(breaker: CircuitBreaker, metrics: Metrics, log: StateLog): void {
  metrics.watchBreaker(breaker);
  breaker.onStateChange((state, detail) => {
    if (state === "closed") log("info", `${breaker.name}: circuit closed, calls go through again`, { dependency: breaker.name });
    else if (state === "open") log("warn", `${breaker.name}: circuit open, calls fail fast with 503`, { dependency: breaker.name, openMs: detail.openMs, reason: reasonOf(detail.cause) });
    // half-open is a probe in flight: its outcome is the next line
  });
}

export function watchStoreGuard(guard: GuardedStore, metrics: Metrics, log: StateLog): void {
  metrics.storeWritesAvailable.set(guard.writesAvailable ? 1 : 0);
  guard.onWriteStateChange((available, cause) => {
    metrics.storeWritesAvailable.set(available ? 1 : 0);
    if (available) log("info", "store accepts writes again", {});
    else log("warn", "store cannot accept writes: writes answer 503 until it can (reads go on)", { reason: cause?.reason, detail: reasonOf(cause) });
  });
  watchBreaker(guard.breaker, metrics, log);
}
