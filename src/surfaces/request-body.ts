/** Request reading shared by the ARM routes and the agent API: header values, the required JSON body. */
import type { FastifyRequest } from "fastify";
import { errors } from "../arm/errors.js";

export const headerValue = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export function requireJsonBody(request: FastifyRequest): Record<string, unknown> {
  const contentType = headerValue(request, "content-type");
  if (request.body === undefined || request.body === null) {
    if (contentType && !/^application\/json\b/i.test(contentType)) throw errors.unsupportedMediaType(contentType);
    throw errors.missingBody();
  }
  if (!contentType || !/^application\/json\b/i.test(contentType)) throw errors.unsupportedMediaType(contentType);
  if (typeof request.body !== "object" || Array.isArray(request.body)) {
    throw errors.invalidRequestContent("The request content must be a JSON object.", "body");
  }
  return request.body as Record<string, unknown>;
}
