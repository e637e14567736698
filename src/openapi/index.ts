/** What the rest of the service asks of openapi/: its operations, served api-versions, body validation. */
import { documents } from "./documents.js";

export { documents, OPENAPI_DIR, type NamedDocument, type SwaggerDocument } from "./documents.js";
export { validateRequestBody } from "./validator.js";

export interface OperationInfo {
  operationId: string;
  method: string;
  path: string;
  apiVersions: string[];
  resourceType: string;
  document: string;
}

const METHODS = new Set(["get", "put", "post", "patch", "delete", "head"]);

export function operations(): OperationInfo[] {
  return documents().flatMap(({ name, document }) =>
    Object.entries(document.paths).flatMap(([p, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.has(method))
        .map(([method, op]) => ({
          operationId: op.operationId,
          method,
          path: p,
          apiVersions: document["x-ms-api-versions"],
          resourceType: document["x-resource-type"],
          document: name,
        })),
    ),
  );
}

const byOperation = new Map<string, string[]>();

/**
 * The api-versions an operation is served at: those of every document that holds it. A document may add
 * operations to a resource type at its own api-versions only (a preview's actions), or describe the
 * type's existing operations again with a richer schema at its versions (a preview's properties).
 */
export function operationApiVersions(operationId: string): string[] {
  let versions = byOperation.get(operationId);
  if (!versions) {
    versions = [...new Set(operations().filter((o) => o.operationId === operationId).flatMap((o) => o.apiVersions))];
    if (versions.length === 0) throw new Error(`no openapi document describes ${operationId}`);
    byOperation.set(operationId, versions);
  }
  return versions;
}

const byType = new Map<string, string[]>();

/** api-versions served for an ARM resource type, as listed by its document (case-insensitive type) */
export function supportedApiVersions(resourceType: string): string[] {
  const key = resourceType.toLowerCase();
  let versions = byType.get(key);
  if (!versions) {
    versions = documents()
      .filter(({ document }) => document["x-resource-type"].toLowerCase() === key)
      .flatMap(({ document }) => document["x-ms-api-versions"])
      .filter((v, i, all) => all.indexOf(v) === i);
    if (versions.length === 0) throw new Error(`no openapi document serves ${resourceType}`);
    byType.set(key, versions);
  }
  return versions;
}
