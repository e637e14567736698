/**
 * Drives traffic through a fault and measures what the issue asks for (test/faults/*, bench/faults.ts):
 * the status codes seen, the worst latency (overall, and once the fault was known), 503s without
 * Retry-After, the writes acknowledged during the fault, and the time to recover after it clears.
 */
import type { HttpResponse } from "./http.js";

export interface DrillRound {
  /** every answer of this round (callers in parallel) */
  responses: HttpResponse[];
  /** the name of a write acknowledged in this round, if any */
  acknowledged?: string;
}

export interface DrillResult {
  statuses: Record<string, number>;
  worstMs: number;
  /** worst round once `known()` was true at its start (the breaker had opened) */
  worstKnownMs: number;
  retryAfterMissing: number;
  acknowledged: string[];
  rounds: number;
}

export async function drill(options: { ms: number; known: () => boolean; round: (i: number) => Promise<DrillRound>; each?: () => void }): Promise<DrillResult> {
  const result: DrillResult = { statuses: {}, worstMs: 0, worstKnownMs: 0, retryAfterMissing: 0, acknowledged: [], rounds: 0 };
  const until = Date.now() + options.ms;
  for (let i = 0; Date.now() < until; i++) {
    const known = options.known();
    const started = performance.now();
    const { responses, acknowledged } = await options.round(i);
    const took = performance.now() - started;
    result.rounds++;
    result.worstMs = Math.max(result.worstMs, took);
    if (known) result.worstKnownMs = Math.max(result.worstKnownMs, took);
    for (const r of responses) {
      result.statuses[r.status] = (result.statuses[r.status] ?? 0) + 1;
      if (r.status === 503 && !/^\d+$/.test(String(r.headers["retry-after"]))) result.retryAfterMissing++;
    }
    if (acknowledged) result.acknowledged.push(acknowledged);
    options.each?.();
  }
  return result;
}

/** tries `attempt` until it acknowledges a write; the time from the call and the write's name */
export async function recovery(attempt: (i: number) => Promise<string | undefined>, maxMs = 15_000): Promise<{ ms: number; acknowledged: string }> {
  const started = performance.now();
  for (let i = 0; performance.now() - started < maxMs; i++) {
    const acknowledged = await attempt(i);
    if (acknowledged) return { ms: performance.now() - started, acknowledged };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`did not recover within ${maxMs} ms`);
}

export const summary = (r: DrillResult): string =>
  `statuses ${JSON.stringify(r.statuses)}, worst ${r.worstMs.toFixed(0)} ms, worst once known ${r.worstKnownMs.toFixed(0)} ms, 503 without Retry-After ${r.retryAfterMissing}`;
