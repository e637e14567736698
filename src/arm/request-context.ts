/**
 * The ARM headers every response carries: a service-generated x-ms-request-id, the caller's
 * correlation id echoed, and the client request id echoed when asked (x-ms-return-client-request-id).
 * All three are bound to the request's log lines.
 */
import crypto from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Bindings, ChildLoggerOptions } from "fastify/types/logger.js";
import { errors } from "./errors.js";

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** request ids are generated here (never taken from the caller) so they are unique and safe to log */
export const generateRequestId = (): string => crypto.randomUUID();

const rawHeader = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * A request's logger: the request id, the correlation id and the client request id bound to every line.
 * The pino child is made on the first line other than the completion line (an error, a refusal): a
 * child serializes its bindings when it is made, and most requests write only the completion line,
 * which `completionLine` writes through the parent with the same fields.
 */
class RequestLogger {
  private made?: FastifyBaseLogger;

  /**
   * The correlation id and the client request id are read from the raw headers here, but the bindings
   * object is only built when a line is written (every request writes its completion line at info,
   * except 304 polls at debug, which usually write nothing).
   */
  constructor(
    private readonly parent: FastifyBaseLogger,
    /** the parent's sibling for completion lines (see completionLoggers), when one could be made */
    private readonly completion: FastifyBaseLogger | undefined,
    private readonly base: Bindings,
    private readonly correlationId: string | undefined,
    private readonly clientRequestId: string | undefined,
    private readonly options: ChildLoggerOptions,
  ) {}

  get bindings(): Bindings {
    return { ...this.base, correlationId: this.correlationId, clientRequestId: this.clientRequestId };
  }

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  // methods on the prototype (not per-instance arrow functions): one logger is made per request
  fatal(...args: unknown[]): void {
    (this.logger.fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    (this.logger.error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    (this.logger.warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    (this.logger.info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    (this.logger.debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    (this.logger.trace as (...a: unknown[]) => void)(...args);
  }
  silent(...args: unknown[]): void {
    (this.logger.silent as (...a: unknown[]) => void)(...args);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  /** the completion line: through the child if one was made, else through the parent with the bindings in front */
  completionLine(fields: Record<string, unknown>, message: string): void {
    if (this.made) this.made.info(fields, message);
    else if (this.options.level === undefined) {
      const line = { ...this.base, correlationId: this.correlationId, clientRequestId: this.clientRequestId, ...fields };
      if (!this.completion) this.parent.info(line, message);
      // the sibling logs at every level: whether the line is written is the parent's level, read now
      else if ((this.parent as FastifyBaseLogger & { isLevelEnabled?(l: string): boolean }).isLevelEnabled?.("info") ?? true) this.completion.info(line, message);
    } else this.logger.info(fields, message);
  }
}

/**
 * The completion line's logger: a sibling of the service's logger, same destination and format, whose
 * redaction keeps every path but the wildcard ones (`*.body`, `*.sshPrivateKey`...). The completion
 * line's values are scalars only (ids, method, route pattern, status, ms: see completionFields), which a
 * wildcard path (a property of an object value) can never match; top-level paths still apply. pino runs
 * the wildcard redactor over every value of a line (a clone and a path walk per value, ~15% of a cached
 * GET's CPU), so this is where the per-request line got cheap without weakening what it redacts.
 */
const completionLoggers = new WeakMap<FastifyBaseLogger, FastifyBaseLogger | undefined>();

function completionLogger(parent: FastifyBaseLogger, redact: { paths: readonly string[]; censor: string } | undefined): FastifyBaseLogger | undefined {
  if (!redact) return undefined;
  if (completionLoggers.has(parent)) return completionLoggers.get(parent);
  let made: FastifyBaseLogger | undefined;
  try {
    const paths = redact.paths.filter((p) => !p.startsWith("*"));
    made = parent.child({}, { level: "trace", redact: { paths, censor: redact.censor } } as ChildLoggerOptions);
  } catch {
    made = undefined; // a logger that is not pino: the completion line goes through the parent
  }
  completionLoggers.set(parent, made);
  return made;
}

/**
 * The request's logger (fastify's childLoggerFactory): one per request carrying the request id, the
 * correlation id and the client request id, made lazily (see RequestLogger). `redact` is the service
 * logger's redaction (the completion line keeps all of it that can match a line of scalars).
 */
export function requestLoggerFactory(redact?: { paths: readonly string[]; censor: string }) {
  return function requestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions, raw: { headers: IncomingHttpHeaders }): FastifyBaseLogger {
    const requestId = bindings.requestId as string | undefined;
    const correlationId = rawHeader(raw.headers, "x-ms-correlation-request-id") ?? requestId;
    const clientRequestId = rawHeader(raw.headers, "x-ms-client-request-id");
    return new RequestLogger(logger, completionLogger(logger, redact), bindings, correlationId, clientRequestId, options) as unknown as FastifyBaseLogger;
  };
}

/** Host values already found valid (a service sees few): URL parsing is not repeated on every request */
const validHosts = new Set<string>();
const MAX_VALID_HOSTS = 256;

function validHost(host: string | undefined): boolean {
  if (!host) return false;
  if (validHosts.has(host)) return true;
  if (!URL.canParse(`https://${host}`)) return false;
  if (validHosts.size >= MAX_VALID_HOSTS) validHosts.clear();
  validHosts.add(host);
  return true;
}

export function registerRequestContext(app: FastifyInstance): void {
  // callback-style hooks (no promise per hook per request); a refusal is passed to done, which fastify's
  // error handler turns into the ARM error as it does for a thrown one
  app.addHook("onRequest", (request, reply, done) => {
    const correlationId = header(request, "x-ms-correlation-request-id") ?? request.id;
    const clientRequestId = header(request, "x-ms-client-request-id");
    reply.header("x-ms-request-id", request.id);
    reply.header("x-ms-correlation-request-id", correlationId);
    if (clientRequestId && header(request, "x-ms-return-client-request-id")?.toLowerCase() === "true") {
      reply.header("x-ms-client-request-id", clientRequestId);
    }
    // HTTP/1.1 requires Host (RFC 9112 §3.2); node's own refusal has no body, so the server lets it through to here
    // a Host that is not one (empty, "[") would build broken links (surfaces/arm/links.ts): refused the same way
    if (!validHost(request.headers.host)) return done(errors.badRequest("a valid Host header is required"));
    done();
  });
  // one line per request, written when it completes (fastify's own request logging is turned off)
  app.addHook("onResponse", (request, reply, done) => {
    const config = request.routeOptions.config;
    // an agent poll answered 304 is the fleet's heartbeat of nothing new (thousands a second, counted in
    // /metrics): its line is a debug line, and no line at all is built when debug is off
    if (reply.statusCode === 304 && config?.quietWhenUnchanged === true) {
      const level = request.log.level;
      if (level === "debug" || level === "trace") request.log.debug(completionFields(request, reply), "request completed");
      return done();
    }
    const fields = completionFields(request, reply);
    const log = request.log as unknown as Partial<RequestLogger>;
    if (typeof log.completionLine === "function") log.completionLine(fields, "request completed");
    else request.log.info(fields, "request completed");
    done();
  });
}

function completionFields(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  return {
    method: request.method,
    route: request.routeOptions.url ?? "unmatched",
    operationId: request.routeOptions.config?.operationId,
    statusCode: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 10) / 10,
  };
}
