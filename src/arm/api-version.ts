import type { FastifyRequest } from "fastify";
import { errors } from "./errors.js";

/** ARM's api-version shape: YYYY-MM-DD with an optional -preview/-alpha/-beta/-rc/-privatepreview suffix. */
const API_VERSION_SHAPE = /^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|rc|privatepreview))?$/;

export function apiVersionOf(request: FastifyRequest): string | undefined {
  const value = (request.query as Record<string, unknown> | undefined)?.["api-version"];
  if (Array.isArray(value)) return typeof value[0] === "string" ? value[0] : undefined;
  return typeof value === "string" ? value : undefined;
}

/**
 * The api-version check ARM's front door makes before a provider sees a request: missing, malformed
 * and unserved versions get ARM's own codes.
 */
export function requireApiVersion(request: FastifyRequest, resourceType: string, supported: readonly string[]): string {
  const apiVersion = apiVersionOf(request);
  if (apiVersion === undefined || apiVersion === "") throw errors.missingApiVersion();
  if (supported.includes(apiVersion)) return apiVersion;
  if (!API_VERSION_SHAPE.test(apiVersion)) throw errors.invalidApiVersion(apiVersion, supported);
  throw errors.noRegisteredProviderFound(apiVersion, resourceType, supported);
}
