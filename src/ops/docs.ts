/**
 * The served specification: each document of openapi/ as written (GET /openapi/{name}.json), and
 * one merged view of them all behind the browsable page at /docs (@fastify/swagger in static mode,
 * @fastify/swagger-ui). Both come from the same files request validation is compiled from.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { documents, type SwaggerDocument } from "../openapi/index.js";

/**
 * In dev auth mode the page's "Authorize" dialog offers a bearer field as well, where the dev token
 * (`npm run --silent token`, or $DATA_DIR/dev-token) is pasted; every ARM operation accepts it.
 */
export const DEV_BEARER_SCHEME = "devBearer";

const asObject = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {});

function offerDevBearer(document: SwaggerDocument): void {
  document.securityDefinitions = {
    ...asObject(document.securityDefinitions),
    [DEV_BEARER_SCHEME]: {
      type: "apiKey",
      in: "header",
      name: "Authorization",
      description: "Dev auth mode: paste 'Bearer <token>' with the token from `npm run --silent token` (or $DATA_DIR/dev-token).",
    },
  };
  // an operation's own security list replaces the document's: each ARM operation may use either scheme
  const either = (security: unknown): unknown =>
    Array.isArray(security) && security.some((s) => typeof s === "object" && s !== null && "azure_auth" in s) ? [...security, { [DEV_BEARER_SCHEME]: [] }] : security;
  document.security = either(document.security ?? [{ azure_auth: ["user_impersonation"] }]) as SwaggerDocument["security"];
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, { security?: unknown }>)) {
      if (typeof operation === "object" && operation !== null && operation.security !== undefined) operation.security = either(operation.security);
    }
  }
}

/** one document for the browsable page; shared definitions (errors, systemData) are identical in every file */
export function mergedDocument(options: { offerBearer?: boolean } = {}): SwaggerDocument {
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
    // an operation a later document describes again (a preview's richer schema of the same path and
    // method) keeps its first description here; the preview is served whole at /openapi/{name}.json
    for (const [p, item] of Object.entries(document.paths)) merged.paths[p] = { ...item, ...(merged.paths[p] ?? {}) };
    merged.definitions = { ...(document.definitions ?? {}), ...merged.definitions };
    merged.parameters = { ...(document.parameters ?? {}), ...merged.parameters };
    if (document.securityDefinitions) merged.securityDefinitions = { ...asObject(merged.securityDefinitions), ...asObject(document.securityDefinitions) };
  }
  if (options.offerBearer) offerDevBearer(merged);
  return merged;
}

export async function registerDocs(app: FastifyInstance, options: { offerBearer: boolean }): Promise<void> {
  const byName = new Map(documents().map((d) => [d.name.toLowerCase(), d.document]));
  app.get("/openapi", { config: { operationId: "Ops_OpenApiIndex" } }, async () => ({
    documents: [...byName.keys()].map((name) => `/openapi/${name}.json`),
  }));
  app.get<{ Params: { name: string } }>("/openapi/:name", { config: { operationId: "Ops_OpenApiDocument" } }, async (request, reply) => {
    const document = byName.get(request.params.name.replace(/\.json$/i, "").toLowerCase());
    if (!document) return reply.code(404).send({ error: { code: "NotFound", message: `No OpenAPI document named '${request.params.name}'.` } });
    return document;
  });
  await app.register(swagger, { mode: "static", specification: { document: mergedDocument(options) as never } });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}
