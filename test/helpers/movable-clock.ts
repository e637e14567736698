/**
 * A service clock for tests that must pass time (a bake, a lease) without sleeping it: real time plus what
 * the test moved it on by. A fixed sleep of real seconds can be overrun by a loaded machine; moving the
 * clock cannot.
 */
import type { Clock } from "../../src/ports/clock.js";

export class MovableClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
