/**
 * Read-modify-write under optimistic concurrency: the whole attempt (read, validate, write) runs
 * again when another writer got there first, so validation always sees fresh state. A caller who set
 * If-Match/If-None-Match gets the 412 instead; after a few lost races the caller gets a 409.
 */
import { errors } from "../arm/errors.js";
import { lostRace } from "../persistence/collection.js";

const MAX_ATTEMPTS = 5;

const pause = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));

export async function withOptimisticRetry<T>(callerSetConditions: boolean, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!lostRace(err)) throw err;
      if (callerSetConditions) throw errors.preconditionFailed("If-Match");
      await pause(i);
    }
  }
  throw errors.concurrentWrite();
}
