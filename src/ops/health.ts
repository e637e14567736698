/**
 * Liveness and readiness. /readyz answers 200 only when the store answers, every migration is
 * applied, and the service is not draining for shutdown (so load balancers stop sending first); its
 * 503 body says why.
 *
 * A replica whose store answers reads but cannot take writes (disk full, read-only: issue #17) stays
 * ready: taking it out of rotation would stop the reads, agent polls and sweeper it can still serve,
 * and send its writes nowhere better (the embedded store is this replica's own). The body says
 * `"writes": "unavailable"` and the store_writes_available metric is 0; writes answer 503 meanwhile.
 */
import type { FastifyInstance } from "fastify";
import { StoreUnavailableError, type Store } from "../store/port.js";

export interface Readiness {
  draining: boolean;
  /** false while the store cannot take writes (the store guard knows); absent: always true */
  writesAvailable?: () => boolean;
}

/** our own unavailability messages are safe to show; anything else is named only by its kind */
const reasonOf = (err: unknown): string => (err instanceof StoreUnavailableError ? err.message : "the store did not answer");

export function registerHealth(app: FastifyInstance, store: Store, readiness: Readiness): void {
  // readiness is probed every few seconds: a line when the answer changes, not one per probe
  let lastStatus = "ready";
  const changed = (status: string, fields: Record<string, unknown> = {}) => {
    if (status === lastStatus) return;
    lastStatus = status;
    if (status === "ready") app.log.info("readiness: ready again");
    else app.log.warn(fields, `readiness: ${status}`);
  };
  app.get("/healthz", { config: { operationId: "Ops_Healthz" } }, async () => ({ status: "ok" }));
  app.get("/readyz", { config: { operationId: "Ops_Readyz" } }, async (_request, reply) => {
    if (readiness.draining) return reply.code(503).send({ status: "draining" });
    try {
      await store.ping();
      if (!(await store.migrationsApplied())) {
        changed("migrations pending");
        return reply.code(503).send({ status: "migrations pending" });
      }
    } catch (err) {
      changed("store unreachable", { err });
      return reply.code(503).send({ status: "store unreachable", reason: reasonOf(err) });
    }
    changed("ready");
    return { status: "ready", writes: readiness.writesAvailable?.() === false ? "unavailable" : "available" };
  });
}
