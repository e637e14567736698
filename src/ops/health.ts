/**
 * Liveness and readiness. /readyz answers 200 only when the store answers, every migration is
 * applied, and the service is not draining for shutdown (so load balancers stop sending first).
 */
import type { FastifyInstance } from "fastify";
import type { Store } from "../store/port.js";

export interface Readiness {
  draining: boolean;
}

export function registerHealth(app: FastifyInstance, store: Store, readiness: Readiness): void {
  app.get("/healthz", { config: { operationId: "Ops_Healthz" } }, async () => ({ status: "ok" }));
  app.get("/readyz", { config: { operationId: "Ops_Readyz" } }, async (request, reply) => {
    if (readiness.draining) return reply.code(503).send({ status: "draining" });
    try {
      await store.ping();
      if (!(await store.migrationsApplied())) return reply.code(503).send({ status: "migrations pending" });
    } catch (err) {
      request.log.warn({ err }, "readiness check failed");
      return reply.code(503).send({ status: "store unreachable" });
    }
    return { status: "ready" };
  });
}
