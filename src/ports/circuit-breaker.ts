/**
 * Failing fast while a dependency is down (issue #17): a circuit breaker with a half-open probe, and a
 * deadline for one outbound call. Used by the store guard (src/store/guarded.ts) and the Key Vault
 * key provider, so every dependency behaves the same way under an outage.
 *
 * closed → (failureThreshold consecutive failures) → open for openMs → half-open: one probe goes out,
 * every call is refused meanwhile; the probe's success closes the circuit, its failure opens it again
 * for twice as long (at most maxOpenMs). A refused call costs no I/O at all.
 *
 * With a probe of its own (useProbe: a cheap call with a deadline, e.g. the store's ping) the breaker
 * probes in the background when the open interval ends, so no caller ever waits on a probe and
 * recovery is noticed without traffic. Without one, the first call after the interval is the probe.
 */

export type BreakerState = "closed" | "open" | "halfOpen";

export interface BreakerOptions {
  /** consecutive failures that open the circuit */
  failureThreshold: number;
  /** first open interval; doubled after each failed probe */
  openMs: number;
  maxOpenMs: number;
  now?: () => number;
}

export interface BreakerListener {
  (state: BreakerState, detail: { openMs?: number; cause?: unknown }): void;
}

/** what a caller does with a refused call: its own typed "unavailable" error, with a retry hint */
export type Refusal = (retryAfterMs: number) => Error;

export class CircuitBreaker {
  private current: BreakerState = "closed";
  private failures = 0;
  private openUntil = 0;
  private openMs: number;
  private readonly now: () => number;
  private readonly listeners: BreakerListener[] = [];
  private probe?: () => Promise<unknown>;
  private probeTimer?: NodeJS.Timeout;
  private disposed = false;
  /** calls refused without being attempted, since start (for /metrics) */
  refused = 0;

  constructor(readonly name: string, private readonly options: BreakerOptions) {
    this.openMs = options.openMs;
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  onStateChange(listener: BreakerListener): void {
    this.listeners.push(listener);
  }

  /** probes the dependency in the background when the open interval ends (see above) */
  useProbe(probe: () => Promise<unknown>): void {
    this.probe = probe;
  }

  /** stops background probing (the dependency's client is closing) */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.probeTimer);
  }

  private async runProbe(): Promise<void> {
    if (this.disposed || !this.probe) return;
    this.transition("halfOpen", {});
    try {
      await this.probe();
      this.succeeded(true);
    } catch (err) {
      this.failed(true, err);
    }
  }

  /**
   * Runs the call unless the circuit refuses it. `isFailure` says which errors mean "the dependency is
   * down" (a conflict or a not-found proves it answered, and counts as a success).
   */
  async run<T>(call: () => Promise<T>, isFailure: (err: unknown) => boolean, refuse: Refusal): Promise<T> {
    const probe = this.admit(refuse);
    try {
      const result = await call();
      this.succeeded(probe);
      return result;
    } catch (err) {
      if (isFailure(err)) this.failed(probe, err);
      else this.succeeded(probe);
      throw err;
    }
  }

  /** returns whether this call is the half-open probe; throws the caller's refusal when not admitted */
  private admit(refuse: Refusal): boolean {
    if (this.current === "closed") return false;
    const now = this.now();
    if (this.current === "open" && now >= this.openUntil && !this.probe) {
      this.transition("halfOpen", {});
      return true;
    }
    this.refused++;
    // while a probe is out, callers are told to come back about when it will have answered
    throw refuse(this.current === "open" ? Math.max(this.openUntil - now, 0) : this.options.openMs);
  }

  private succeeded(probe: boolean): void {
    // a late success of a call started before the circuit opened proves nothing about now
    if (this.current !== "closed" && !probe) return;
    this.failures = 0;
    if (this.current !== "closed") {
      this.openMs = this.options.openMs;
      this.transition("closed", {});
    }
  }

  private failed(probe: boolean, cause: unknown): void {
    if (probe) {
      this.openMs = Math.min(this.openMs * 2, this.options.maxOpenMs);
      this.open(cause);
      return;
    }
    if (this.current !== "closed") return;
    this.failures++;
    if (this.failures >= this.options.failureThreshold) this.open(cause);
  }

  private open(cause: unknown): void {
    this.openUntil = this.now() + this.openMs;
    this.failures = 0;
    this.transition("open", { openMs: this.openMs, cause });
    if (this.probe && !this.disposed) {
      clearTimeout(this.probeTimer);
      this.probeTimer = setTimeout(() => void this.runProbe(), this.openMs);
      this.probeTimer.unref();
    }
  }

  private transition(state: BreakerState, detail: { openMs?: number; cause?: unknown }): void {
    if (state === this.current && state !== "open") return;
    this.current = state;
    for (const l of this.listeners) {
      // a listener's failure (metrics, logging) must not become an unhandled rejection of the background probe
      try {
        l(state, detail);
      } catch {
        // ignored: the breaker's state is what matters
      }
    }
  }
}

/**
 * A throttling answer (429) proves the dependency is up and asks for less traffic: it must not open a
 * breaker (that would turn a throttled moment into refusing everything). Looks at the error's cause,
 * where the adapters keep the engine's own error.
 */
export function isThrottling(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown; statusCode?: unknown } } | undefined)?.cause;
  return cause?.code === 429 || cause?.statusCode === 429;
}

/** the call did not answer within its deadline; the caller maps it to its own "unavailable" error */
export class DeadlineExceededError extends Error {
  constructor(readonly what: string, readonly deadlineMs: number) {
    super(`${what} did not answer within ${deadlineMs} ms`);
    this.name = "DeadlineExceededError";
  }
}

/**
 * Runs the call with a deadline: the signal aborts it where the client honours one, and the caller is
 * answered at the deadline in any case (a stalled socket can never hold a request longer).
 */
export function withDeadline<T>(what: string, deadlineMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // a call that takes no signal (it declares no parameter: the store's) gets none: an AbortController
  // per call was a visible share of a store read's cost; the caller is answered at the deadline all the same
  const controller = call.length > 0 ? new AbortController() : undefined;
  let timer: NodeJS.Timeout | undefined;
  const attempt = call(controller?.signal as AbortSignal);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DeadlineExceededError(what, deadlineMs);
      controller?.abort(err);
      reject(err);
    }, deadlineMs);
  });
  // the abandoned call may still fail later: that rejection is expected and must not go unhandled
  attempt.catch(() => undefined);
  return Promise.race([attempt, deadline]).finally(() => clearTimeout(timer));
}
