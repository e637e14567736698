/**
 * Every failure leaves in ARM's error shape. Known errors keep their status; anything unexpected is
 * logged in full and answered with a generic 500 that reveals nothing of the internals.
 */
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { IntegrityError } from "../crypto/envelope.js";
import { KeyRefusedError, KeyUnavailableError } from "../ports/key-provider.js";
import { StorePreconditionFailedError, StoreUnavailableError, StoreWriteUnavailableError } from "../store/port.js";
import { apiVersionOf } from "./api-version.js";
import { ArmError, errors } from "./errors.js";
import { generateRequestId } from "./request-context.js";

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * The longest path segment routed (fastify's default is 100, answered with its own 414). Longer
 * than any ARM name, so an over-long name reaches the name rules and gets their 400; a segment
 * beyond this is refused as InvalidResourceName without being routed.
 */
export const MAX_PARAM_LENGTH = 1024;

function fromFastifyError(error: FastifyError, request: FastifyRequest): ArmError | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return errors.requestTooLarge(BODY_LIMIT_BYTES);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return errors.unsupportedMediaType(request.headers["content-type"]);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return errors.badRequest("the Content-Length does not match the body");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return errors.missingBody();
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return errors.malformedJson();
    default:
      // fastify's JSON parser reports syntax and prototype-poisoning errors as plain 400s
      if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON|__proto__|constructor/.test(error.message))) {
        return errors.malformedJson();
      }
      // any other refusal of the framework's is the caller's: a 400 in ARM's shape, not a 500
      if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) return errors.badRequest("the framework refused it");
      return undefined;
  }
}

export function toArmError(error: unknown, request: FastifyRequest): ArmError | undefined {
  if (error instanceof ArmError) return error;
  if (error instanceof StoreWriteUnavailableError) return errors.storeWriteUnavailable(error.retryAfterSeconds);
  if (error instanceof StoreUnavailableError || error instanceof KeyUnavailableError) return errors.unavailable(error.retryAfterSeconds);
  if (error instanceof IntegrityError) return errors.dataIntegrity();
  if (error instanceof KeyRefusedError) return errors.encryptionKeyRefused();
  if (error instanceof StorePreconditionFailedError) return errors.concurrentWrite();
  if (error && typeof error === "object" && "code" in error) return fromFastifyError(error as FastifyError, request);
  return undefined;
}

/** the error in the shape of the requested api-version's error schema */
export function sendArmError(reply: FastifyReply, error: ArmError): FastifyReply {
  return reply.code(error.statusCode).headers(error.headers).type("application/json; charset=utf-8").send(error.toBody(apiVersionOf(reply.request)));
}

/** fastify's router refusals (fastify's `frameworkErrors` option): a bad percent-encoding, an over-long segment */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // refused before the onRequest hooks: the request id is set here
  reply.header("x-ms-request-id", request.id);
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") return sendArmError(reply, errors.nameTooLong(MAX_PARAM_LENGTH));
  if (error.code === "FST_ERR_BAD_URL") return sendArmError(reply, errors.badRequest("the URL is not validly percent-encoded"));
  return sendArmError(reply, errors.badRequest("the request could not be routed"));
}

function clientErrorOf(code: string | undefined): ArmError {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return errors.headersTooLarge();
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return errors.requestTimeout();
    case "HPE_INVALID_METHOD":
      return errors.badRequest("the HTTP method is not known");
    default:
      return errors.badRequest("the request could not be parsed as HTTP/1.1");
  }
}

/** an ARM error written straight on a connection fastify never routed; the connection then closes */
function writeRawArmError(socket: Socket, armError: ArmError, reason: string): void {
  const body = JSON.stringify(armError.toBody());
  const headers = Object.entries(armError.headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  socket.end(
    `HTTP/1.1 ${armError.statusCode} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${headers}x-ms-request-id: ${generateRequestId()}\r\nConnection: close\r\n\r\n${body}`,
  );
  // end() flushes, then closes; a peer that never reads does not keep the socket
  socket.setTimeout(1000, () => socket.destroy());
}

/**
 * Node's HTTP parser refuses some requests before fastify sees them (a 60 KB header, an unknown
 * method, a malformed request line): the answer is written on the socket, in ARM's shape, and the
 * connection is closed (the parser's state is lost). Used as fastify's `clientErrorHandler`.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const armError = clientErrorOf(error.code);
    writeRawArmError(socket, armError, armError.statusCode === 431 ? "Request Header Fields Too Large" : armError.statusCode === 408 ? "Request Timeout" : "Bad Request");
  } else {
    socket.destroy();
  }
}

/**
 * An empty body is no body, whatever its Content-Type says: a DELETE sent with
 * `Content-Type: application/json` and nothing else is served (a PUT still gets "content is missing"
 * from the route pipeline). Otherwise fastify's own JSON parser, with its prototype-poisoning checks.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    parse(request, typeof body === "string" ? body : body.toString("utf8"), done);
  });
}

/** the methods a path is served under (from the route table), for a 405 and its Allow header */
export type AllowedMethods = (path: string) => readonly string[];

/**
 * While the server closes, a request still arriving on an open connection gets ARM's 503 (fastify's
 * own return503OnClosing answer is in its shape, so it is turned off in app.ts) and the connection closes.
 */
function registerClosingAnswer(app: FastifyInstance): void {
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (_request, reply) => {
    if (!closing) return undefined;
    reply.header("connection", "close");
    return sendArmError(reply, errors.unavailable(1));
  });
}

export function registerErrorHandling(app: FastifyInstance, allowedMethods: AllowedMethods = () => []): void {
  registerClosingAnswer(app);
  app.setErrorHandler((error, request, reply) => {
    const armError = toArmError(error, request);
    if (armError) {
      // the resource id is in the error's message (IntegrityError names its document); no value ever is
      // a 503 is a known state (store or key provider down, writes degraded) logged once per change where
      // it is detected: per request it is a refusal like a 4xx, not an error with a stack
      if (armError.statusCode >= 500 && armError.statusCode !== 503) request.log.error({ err: error, resourceId: (error as { documentKey?: string }).documentKey }, "request failed");
      else request.log.info({ code: armError.code, target: armError.target }, "request refused");
      return sendArmError(reply, armError);
    }
    request.log.error({ err: error }, "unexpected error");
    return sendArmError(reply, errors.internal());
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const allowed = allowedMethods(path);
    return sendArmError(reply, allowed.length > 0 ? errors.methodNotAllowed(request.method, allowed) : errors.notFoundRoute(request.method, path));
  });
  // CONNECT never reaches the router: node hands its socket to 'connect' listeners and, without one, closes it unanswered
  app.server.on("connect", (request: { url?: string }, socket: Socket) => {
    const path = (request.url ?? "").split("?")[0] ?? "";
    writeRawArmError(socket, errors.methodNotAllowed("CONNECT", path.startsWith("/") ? allowedMethods(path) : []), "Method Not Allowed");
  });
}
