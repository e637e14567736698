/**
 * The official fluxConfigurations 2024-11-01 document (test/fixtures/azure-rest-api-specs, copied unchanged from
 * Azure/azure-rest-api-specs) compiled with ajv, its relative $refs into common-types and the common folders
 * resolved as the files they name (each file is added under its own file URL, as src/openapi/validator.ts
 * adds openapi/ documents). `validateFluxConfiguration` checks a PUT body against `FluxConfiguration`;
 * `strict` also refuses properties the official definitions do not name (the official document leaves
 * additionalProperties open) and read-only ones, so a misspelt or read-only field is caught too.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { REFERENCE_ROOT } from "./oav.js";

const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

const KC = "specification/kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration";
export const FLUX_2024 = path.join(REFERENCE_ROOT, KC, "fluxConfigurations/stable/2024-11-01/fluxconfiguration.json");

type Json = Record<string, unknown>;

/** every document the flux document reaches, by absolute path */
function load(file: string, seen = new Map<string, Json>()): Map<string, Json> {
  if (seen.has(file)) return seen;
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Json;
  seen.set(file, doc);
  const refs = JSON.stringify({ definitions: doc.definitions, parameters: doc.parameters }).matchAll(/"\$ref":"([^"#]+)#/g);
  for (const [, rel] of refs) load(path.resolve(path.dirname(file), rel as string), seen);
  return seen;
}

/** the flux document's own definitions, closed: no property they do not name, none read-only (common types stay open: allOf composes them) */
function closed(definitions: Json): Json {
  const out = structuredClone(definitions) as Record<string, Json>;
  const close = (schema: Json): void => {
    const props = schema.properties as Record<string, Json> | undefined;
    if (!props) return;
    if (schema.additionalProperties === undefined && schema.allOf === undefined) schema.additionalProperties = false;
    for (const [name, prop] of Object.entries(props)) {
      if (prop.readOnly === true) props[name] = { not: {} };
      else close(prop);
    }
  };
  for (const def of Object.values(out)) close(def);
  return out;
}

let compiled: { loose: ValidateFunction; strict: ValidateFunction } | undefined;

function compile(): { loose: ValidateFunction; strict: ValidateFunction } {
  const make = (transform: (d: Json) => Json): ValidateFunction => {
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, validateSchema: false });
    addFormats(ajv);
    for (const [file, doc] of load(FLUX_2024)) {
      ajv.addSchema({ $id: pathToFileURL(file).href, definitions: file === FLUX_2024 ? transform((doc.definitions ?? {}) as Json) : doc.definitions ?? {}, parameters: doc.parameters ?? {} });
    }
    return ajv.compile({ $ref: `${pathToFileURL(FLUX_2024).href}#/definitions/FluxConfiguration` });
  };
  return { loose: make((d) => d), strict: make(closed) };
}

export interface SchemaVerdict {
  valid: boolean;
  errors: string[];
}

export function validateFluxConfiguration(body: unknown, mode: "official" | "strict" = "official"): SchemaVerdict {
  compiled ??= compile();
  const validate = mode === "strict" ? compiled.strict : compiled.loose;
  const valid = validate(body) as boolean;
  return { valid, errors: (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""} ${JSON.stringify(e.params)}`) };
}
