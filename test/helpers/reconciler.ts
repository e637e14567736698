/**
 * Driving the assignment reconciler from tests: settle() runs passes (runOnce) until nothing is left
 * to do; with another replica holding the lease, it waits for that replica to finish the work instead.
 * A halted rollout, or a stage waiting on its gate (agents' reports, bake time), is not work: settle returns.
 */
import { Persistence } from "../../src/persistence/index.js";
import type { TestServer } from "./server.js";

type Driven = Pick<TestServer, "reconciler" | "store" | "codec" | "clock">;

/** whether any outbox item is due or any rollout (or deletion) is unfinished, read from the store */
export async function pending(server: Driven): Promise<boolean> {
  const repo = new Persistence(server.store, server.codec);
  const now = server.clock.now();
  let continuation: string | undefined;
  do {
    const page = await repo.outbox.page(200, continuation);
    if (page.items.some((item) => item.retryAt <= now)) return true;
    continuation = page.continuation;
  } while (continuation !== undefined);
  do {
    const page = await repo.assignments.pageDocuments(undefined, 200, continuation);
    for (const doc of page.items) {
      const a = await repo.assignments.decode(doc).catch(() => undefined);
      if (!a) continue; // an unreadable one the reconciler leaves out too
      const status = await repo.assignments.getStatus(a.record.subscriptionId, a.record.id);
      if (!status || status.record.generation !== a.record.generation || a.record.deletion) return true;
      // a halt or resume not yet acted on is work; a halted rollout, or a stage waiting on agents or its bake time, is not
      const requested = (a.record.actions ?? []).some((x) => x.kind !== "rollback" && x.generation === a.record.generation && x.seq > (status.record.actionSeen ?? 0));
      const stage = status.record.stages?.[status.record.currentStage ?? 0]?.state;
      if (requested) return true;
      if (status.record.state === "InProgress" && !(stage === "Waiting" || stage === "Baking")) return true;
    }
    continuation = page.continuation;
  } while (continuation !== undefined);
  return false;
}

/** passes until one did nothing and nothing is pending; throws after `timeoutMs` */
export async function settle(server: Driven, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const report = await server.reconciler.runOnce();
    const wrote = Object.values(report.outcomes).some((n) => n > 0) || report.rolloutsCompleted + report.assignmentsDeleted + report.clustersFromOutbox > 0;
    if (!wrote && !(await pending(server))) return;
    if (!report.ran) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("assignment reconciliation did not settle");
}
