/**
 * Loads the OpenAPI documents of openapi/ (the single source of truth for routes, api-versions and
 * request bodies). They are read once, from the package root, whether the code runs from src/ or dist/.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface SwaggerOperation {
  operationId: string;
  parameters?: Array<Record<string, unknown>>;
  responses: Record<string, unknown>;
  [extension: string]: unknown;
}

export interface SwaggerDocument {
  swagger: "2.0";
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions?: Record<string, unknown>;
  parameters?: Record<string, Record<string, unknown>>;
  /** the api-versions this service serves for the document's resource type */
  "x-ms-api-versions": string[];
  /** the ARM resource type the document describes ("ops" for the operations endpoints) */
  "x-resource-type": string;
  [key: string]: unknown;
}

export interface NamedDocument {
  /** file name without extension, e.g. "sourceControlConfigurations" */
  name: string;
  document: SwaggerDocument;
}

function findOpenApiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "openapi");
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("openapi/ not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const OPENAPI_DIR = findOpenApiDir();

let cached: NamedDocument[] | undefined;

export function documents(): NamedDocument[] {
  cached ??= fs
    .readdirSync(OPENAPI_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ""), document: JSON.parse(fs.readFileSync(path.join(OPENAPI_DIR, f), "utf8")) as SwaggerDocument }));
  return cached;
}
