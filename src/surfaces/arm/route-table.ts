/**
 * The ARM surface as a table: each row names its OpenAPI operation, its resource type (for the
 * api-version check) and a handler. `registerArmRoutes` gives every row the same pipeline:
 * authenticate -> ARM's subscription id and resource group name rules -> api-version (those of the operation's document) -> content
 * checks -> body validation against openapi/ -> the path parsed into the row's target -> handler. The table also answers which methods a
 * path is served under (405 and Allow).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Conditions } from "../../arm/etag.js";
import { etagHeader } from "../../arm/etag.js";
import { checkResourceGroupName, checkSubscriptionId } from "../../arm/shapes.js";
import { requireApiVersion } from "../../arm/api-version.js";
import { writeActor, type WriteActor } from "../../arm/system-data.js";
import type { Principal } from "../../ports/principal.js";
import { headerValue, requireJsonBody } from "../request-body.js";
import type { Services } from "../services.js";
import type { PathParams } from "./targets.js";
import { operationApiVersions, validateRequestBody } from "../../openapi/index.js";

export type HttpMethod = "GET" | "PUT" | "PATCH" | "DELETE" | "POST";

/** the methods whose JSON body is required and validated against the operation's schema */
const BODY_METHODS: ReadonlySet<HttpMethod> = new Set<HttpMethod>(["PUT", "PATCH", "POST"]);

export interface ArmCall<T = unknown> {
  request: FastifyRequest;
  /** what the path names, parsed once by the row's `target` (src/surfaces/arm/targets.ts) */
  target: T;
  principal: Principal;
  apiVersion: string;
  /** the parsed JSON body of a PUT or PATCH, already validated against the operation's schema */
  body: Record<string, unknown>;
  conditions: Conditions;
  /** who wrote, for systemData */
  actor(): WriteActor;
  services: Services;
}

export interface ArmResult {
  status: number;
  /** an object to serialize, or JSON text already serialized (sent as it is) */
  body?: unknown;
  /** the resource's ETag (the store's, or one the domain computes: clusters), sent as the ETag header */
  etag?: string;
  /** e.g. Location and Retry-After of an asynchronous operation */
  headers?: Record<string, string>;
}

export interface ArmRoute<T = unknown> {
  operationId: string;
  method: HttpMethod;
  /** fastify path pattern (matched case-insensitively) */
  url: string;
  resourceType: string;
  /** parses what the path names (a parser from targets.ts); the handler gets the result as call.target */
  target(params: PathParams): T;
  handler(call: ArmCall<T>): Promise<ArmResult>;
  /** a POST action whose JSON body may be left out (validated against the operation's schema when given) */
  optionalBody?: boolean;
}

/** a row whose handler takes what its target parses (the table holds rows of every target type) */
export const armRoute = <T>(row: ArmRoute<T>): ArmRoute => row;

async function run(route: ArmRoute, services: Services, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  // Authentication comes first: nothing of the request is looked at, and no storage touched, for an anonymous caller.
  const principal = await services.authenticator.authenticate(headerValue(request, "authorization"));
  const params = request.params as PathParams;
  checkArmScope(params);
  // served at the api-versions of the documents that hold the row's operation (a preview's own actions only at the preview)
  const apiVersion = requireApiVersion(request, route.resourceType, operationApiVersions(route.operationId));
  let body: Record<string, unknown> = {};
  const bodyGiven = request.body !== undefined && request.body !== null;
  if ((BODY_METHODS.has(route.method) && route.optionalBody !== true) || (route.optionalBody === true && bodyGiven)) {
    body = requireJsonBody(request);
    validateRequestBody(route.operationId, body, apiVersion);
  }
  const target = route.target(params);
  // the time a write is stamped with is taken when the request is handled (read only by writes)
  const now = services.clock.now();
  const call: ArmCall = {
    request,
    target,
    principal,
    apiVersion,
    body,
    conditions: { ifMatch: headerValue(request, "if-match"), ifNoneMatch: headerValue(request, "if-none-match") },
    actor: () => writeActor(headerValue(request, "x-ms-arm-resource-system-data"), principal, new Date(now).toISOString()),
    services,
  };
  const result = await route.handler(call);
  reply.code(result.status);
  if (result.etag !== undefined) reply.header("etag", etagHeader(result.etag));
  if (result.headers !== undefined) for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
  if (result.body === undefined) return reply.send();
  return reply.type("application/json; charset=utf-8").send(result.body);
}

/** ARM's front-door rules for the scope of every path that names one, whatever the row */
function checkArmScope(params: PathParams): void {
  if (params.subscriptionId !== undefined) checkSubscriptionId(params.subscriptionId);
  if (params.resourceGroupName !== undefined) checkResourceGroupName(params.resourceGroupName);
}

/** a row's path pattern as a regular expression over request paths (case-insensitive, as routed) */
function patternOf(url: string): RegExp {
  const source = url
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}/?$`, "i");
}

/** the methods `path` is served under, from the table; empty when no row serves it */
export function allowedMethods(routes: readonly ArmRoute[]): (path: string) => string[] {
  const compiled = routes.map((route) => ({ method: route.method, pattern: patternOf(route.url) }));
  return (path) => [...new Set(compiled.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
}

export function registerArmRoutes(app: FastifyInstance, routes: readonly ArmRoute[], services: Services): void {
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { operationId: route.operationId, apiRoute: true },
      handler: (request, reply) => run(route, services, request, reply),
    });
  }
}
