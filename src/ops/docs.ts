/**
 * The served specification: each document of openapi/ as written (GET /openapi/{name}.json), and
 * one merged view of them all behind the browsable page at /docs (@fastify/swagger in static mode,
 * @fastify/swagger-ui). Both come from the same files request validation is compiled from.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { documents, type SwaggerDocument } from "../openapi/index.js";

/** one document for the browsable page; shared definitions (errors, systemData) are identical in every file */
export function mergedDocument(): SwaggerDocument {
  const all = documents();
  const merged: SwaggerDocument = {
    swagger: "2.0",
    info: { title: "Microsoft.KubernetesConfiguration resource provider", version: "1.0", description: "Every route this service serves, from openapi/." },
    schemes: ["https"],
    consumes: ["application/json"],
    produces: ["application/json"],
    paths: {},
    definitions: {},
    parameters: {},
    "x-ms-api-versions": [],
    "x-resource-type": "all",
  };
  for (const { document } of all) {
    Object.assign(merged.paths, document.paths);
    merged.definitions = { ...(document.definitions ?? {}), ...merged.definitions };
    merged.parameters = { ...(document.parameters ?? {}), ...merged.parameters };
    if (document.securityDefinitions) merged.securityDefinitions = document.securityDefinitions;
  }
  return merged;
}

export async function registerDocs(app: FastifyInstance): Promise<void> {
  const byName = new Map(documents().map((d) => [d.name.toLowerCase(), d.document]));
  app.get("/openapi", { config: { operationId: "Ops_OpenApiIndex" } }, async () => ({
    documents: [...byName.keys()].map((name) => `/openapi/${name}.json`),
  }));
  app.get<{ Params: { name: string } }>("/openapi/:name", { config: { operationId: "Ops_OpenApiDocument" } }, async (request, reply) => {
    const document = byName.get(request.params.name.replace(/\.json$/i, "").toLowerCase());
    if (!document) return reply.code(404).send({ error: { code: "NotFound", message: `No OpenAPI document named '${request.params.name}'.` } });
    return document;
  });
  await app.register(swagger, { mode: "static", specification: { document: mergedDocument() as never } });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}
