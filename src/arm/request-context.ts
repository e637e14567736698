/**
 * The ARM headers every response carries: a service-generated x-ms-request-id, the caller's
 * correlation id echoed, and the client request id echoed when asked (x-ms-return-client-request-id).
 * All three are bound to the request's log lines.
 */
import crypto from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errors } from "./errors.js";

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** request ids are generated here (never taken from the caller) so they are unique and safe to log */
export const generateRequestId = (): string => crypto.randomUUID();

export function registerRequestContext(app: FastifyInstance): void {
  app.addHook("onRequest", async (request, reply) => {
    const correlationId = header(request, "x-ms-correlation-request-id") ?? request.id;
    const clientRequestId = header(request, "x-ms-client-request-id");
    request.log = request.log.child({ correlationId, clientRequestId });
    reply.log = request.log;
    reply.header("x-ms-request-id", request.id);
    reply.header("x-ms-correlation-request-id", correlationId);
    if (clientRequestId && header(request, "x-ms-return-client-request-id")?.toLowerCase() === "true") {
      reply.header("x-ms-client-request-id", clientRequestId);
    }
    // HTTP/1.1 requires Host (RFC 9112 §3.2); node's own refusal has no body, so the server lets it through to here
    // a Host that is not one (empty, "[") would build broken links (surfaces/arm/links.ts): refused the same way
    const host = request.headers.host;
    if (!host || !URL.canParse(`https://${host}`)) throw errors.badRequest("a valid Host header is required");
  });
  // one line per request, written when it completes (fastify's own request logging is turned off)
  app.addHook("onResponse", async (request, reply) => {
    // an agent poll answered 304 is the fleet's heartbeat of nothing new (thousands a second, counted in
    // /metrics): its line is a debug line
    if (reply.statusCode === 304 && request.routeOptions.config?.quietWhenUnchanged === true) {
      request.log.debug({ method: request.method, route: request.routeOptions.url, statusCode: 304, ms: Math.round(reply.elapsedTime * 10) / 10 }, "request completed");
      return;
    }
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", operationId: request.routeOptions.config?.operationId, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      "request completed",
    );
  });
}
