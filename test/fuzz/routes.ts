/**
 * Every route the fuzzer visits, derived rather than listed: the ARM route table (`armRoutes`) joined
 * with its openapi/ operation (api-versions, body schema), the agent API and ops endpoints from their
 * documents, and the served documents. A route added to the table or to openapi/ is fuzzed without
 * touching this file.
 */
import { armRoutes } from "../../src/surfaces/arm/index.js";
import { documents, operations, type SwaggerDocument } from "../../src/openapi/index.js";

export type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  allOf?: Schema[];
  readOnly?: boolean;
};

export interface FuzzRoute {
  operationId: string;
  /** the method the route serves */
  method: string;
  /** fastify pattern: `:name` segments are generated */
  url: string;
  surface: "arm" | "agent" | "ops";
  apiVersions: string[];
  /** the request body's schema with $refs left in place, and the definitions they point into */
  body?: { schema: Schema; definitions: Record<string, Schema> };
  /** fixed content (documents, metrics) whose size does not depend on the request */
  fixedContent: boolean;
}

interface Parameter {
  in?: string;
  schema?: Schema;
}

function bodyOf(document: SwaggerDocument, operationId: string): FuzzRoute["body"] {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      if (operation.operationId !== operationId) continue;
      const body = (operation.parameters as Parameter[] | undefined)?.find((p) => p.in === "body");
      if (body?.schema) return { schema: body.schema, definitions: (document.definitions ?? {}) as Record<string, Schema> };
    }
  }
  return undefined;
}

const swaggerToFastify = (p: string): string => p.replace(/\{([^}]+)\}/g, ":$1");

export function fuzzRoutes(): FuzzRoute[] {
  const ops = operations();
  const docByName = new Map(documents().map((d) => [d.name, d.document]));
  const arm: FuzzRoute[] = armRoutes.map((route) => {
    const op = ops.find((o) => o.operationId === route.operationId);
    if (!op) throw new Error(`route ${route.operationId} has no openapi operation`);
    const document = docByName.get(op.document);
    return {
      operationId: route.operationId,
      method: route.method,
      url: route.url,
      surface: "arm",
      apiVersions: op.apiVersions,
      body: document ? bodyOf(document, route.operationId) : undefined,
      fixedContent: false,
    };
  });
  const rest: FuzzRoute[] = ops
    .filter((o) => o.document === "agent" || o.document === "ops")
    .map((o) => ({
      operationId: o.operationId,
      method: o.method.toUpperCase(),
      url: swaggerToFastify(o.path),
      surface: o.document === "agent" ? "agent" : "ops",
      apiVersions: [],
      body: bodyOf(docByName.get(o.document) as SwaggerDocument, o.operationId),
      fixedContent: o.path === "/metrics",
    }));
  // the served documents and their UI (src/ops/docs.ts): not in openapi/, same error rules
  const served: FuzzRoute[] = [
    { operationId: "Ops_OpenApiIndex", method: "GET", url: "/openapi", surface: "ops", apiVersions: [], fixedContent: true },
    { operationId: "Ops_OpenApiDocument", method: "GET", url: "/openapi/:name", surface: "ops", apiVersions: [], fixedContent: true },
    { operationId: "Ops_Docs", method: "GET", url: "/docs/:name", surface: "ops", apiVersions: [], fixedContent: true },
  ];
  return [...arm, ...rest, ...served];
}

/** `:name` parameters of a fastify pattern, in order */
export const paramsOf = (url: string): string[] => [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] ?? "");

/** follows a local `#/definitions/X` reference and merges allOf, so a generator sees one flat object schema */
export function resolve(schema: Schema, definitions: Record<string, Schema>, seen = 0): Schema {
  if (seen > 20) return {};
  if (schema.$ref) {
    const name = schema.$ref.replace(/^#\/definitions\//, "");
    const target = definitions[name];
    return target ? resolve({ ...target, ...withoutRef(schema) }, definitions, seen + 1) : {};
  }
  if (!schema.allOf) return schema;
  const merged: Schema = { ...schema, allOf: undefined, properties: { ...schema.properties }, required: [...(schema.required ?? [])] };
  for (const part of schema.allOf) {
    const r = resolve(part, definitions, seen + 1);
    merged.properties = { ...r.properties, ...merged.properties };
    merged.required = [...(merged.required ?? []), ...(r.required ?? [])];
    merged.type ??= r.type;
  }
  return merged;
}

function withoutRef(schema: Schema): Schema {
  const { $ref: _ref, ...rest } = schema;
  void _ref;
  return rest;
}
