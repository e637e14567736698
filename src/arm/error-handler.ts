/**
 * Every failure leaves in ARM's error shape. Known errors keep their status; anything unexpected is
 * logged in full and answered with a generic 500 that reveals nothing of the internals.
 */
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { IntegrityError } from "../crypto/envelope.js";
import { KeyRefusedError, KeyUnavailableError } from "../ports/key-provider.js";
import { StorePreconditionFailedError, StoreUnavailableError } from "../store/port.js";
import { ArmError, errors } from "./errors.js";

export const BODY_LIMIT_BYTES = 1024 * 1024;

function fromFastifyError(error: FastifyError, request: FastifyRequest): ArmError | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return errors.requestTooLarge(BODY_LIMIT_BYTES);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return errors.unsupportedMediaType(request.headers["content-type"]);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return errors.missingBody();
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return errors.malformedJson();
    default:
      // fastify's JSON parser reports syntax and prototype-poisoning errors as plain 400s
      if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON|__proto__|constructor/.test(error.message))) {
        return errors.malformedJson();
      }
      return undefined;
  }
}

export function toArmError(error: unknown, request: FastifyRequest): ArmError | undefined {
  if (error instanceof ArmError) return error;
  if (error instanceof StoreUnavailableError || error instanceof KeyUnavailableError) return errors.unavailable(error.retryAfterSeconds);
  if (error instanceof IntegrityError) return errors.dataIntegrity();
  if (error instanceof KeyRefusedError) return errors.encryptionKeyRefused();
  if (error instanceof StorePreconditionFailedError) return errors.concurrentWrite();
  if (error && typeof error === "object" && "code" in error) return fromFastifyError(error as FastifyError, request);
  return undefined;
}

export function sendArmError(reply: FastifyReply, error: ArmError): FastifyReply {
  return reply.code(error.statusCode).headers(error.headers).type("application/json; charset=utf-8").send(error.toBody());
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const armError = toArmError(error, request);
    if (armError) {
      // the resource id is in the error's message (IntegrityError names its document); no value ever is
      if (armError.statusCode >= 500) request.log.error({ err: error, resourceId: (error as { documentKey?: string }).documentKey }, "request failed");
      else request.log.info({ code: armError.code, target: armError.target }, "request refused");
      return sendArmError(reply, armError);
    }
    request.log.error({ err: error }, "unexpected error");
    return sendArmError(reply, errors.internal());
  });
  app.setNotFoundHandler((request, reply) => sendArmError(reply, errors.notFoundRoute(request.method, request.url.split("?")[0] ?? "")));
  // CONNECT never reaches the router: node hands its socket to 'connect' listeners and, without one, closes it unanswered
  app.server.on("connect", (_request: unknown, socket: Duplex) => {
    const error = errors.methodNotAllowed("CONNECT");
    const body = JSON.stringify(error.toBody());
    socket.end(`HTTP/1.1 ${error.statusCode} Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
