/**
 * Request-body validation compiled from openapi/: each PUT or PATCH operation's body schema becomes one ajv
 * validator per api-version of the document that holds it, so a preview document (its own file, its own
 * definitions, the same operationIds) validates its api-versions with its richer schema while the official
 * documents keep theirs. Failures become one ARM error whose target names the offending property.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { clip, errors, MAX_DETAILS, type ArmErrorDetail } from "../arm/errors.js";
import { documents, type NamedDocument } from "./documents.js";

// ajv-formats is CommonJS: under NodeNext the plugin function is the module's `default` member
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

/** the validators' key: an operation at one api-version */
const keyOf = (operationId: string, apiVersion: string): string => `${operationId}\u0000${apiVersion}`;

function compileAll(docs: NamedDocument[]): Map<string, ValidateFunction> {
  // swagger 2.0 schemas are JSON Schema draft 4 plus x-ms-* annotations: strict off lets the annotations pass
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // ARM's resource-id format (x-ms-arm-id-details names the type): its meaning is checked by the domain's rules
  ajv.addFormat("arm-id", true);
  const validators = new Map<string, ValidateFunction>();
  for (const { name, document } of docs) {
    const definitions = NULLABLE_DOCUMENTS.has(name) ? nullable(document.definitions ?? {}) : (document.definitions ?? {});
    ajv.addSchema({ $id: `${name}.json`, definitions });
    for (const pathItem of Object.values(document.paths)) {
      for (const operation of Object.values(pathItem)) {
        const body = operation.parameters?.find((p) => p.in === "body") as { schema?: { $ref?: string } } | undefined;
        if (!body?.schema) continue;
        const schema = body.schema.$ref ? { $ref: `${name}.json${body.schema.$ref}` } : body.schema;
        const validate = ajv.compile(schema);
        // without an api-version (the agent API has none; a caller that knows its document has one schema)
        const any = keyOf(operation.operationId, "");
        validators.set(any, validators.has(any) ? AMBIGUOUS : validate);
        for (const apiVersion of document["x-ms-api-versions"]) {
          const key = keyOf(operation.operationId, apiVersion);
          // two documents describing one operation at one api-version would make the contract ambiguous
          if (validators.has(key)) throw new Error(`openapi/: ${operation.operationId} is described twice at api-version ${apiVersion} (${name}.json and another document)`);
          validators.set(key, validate);
        }
      }
    }
  }
  return validators;
}

let validators: Map<string, ValidateFunction> | undefined;

/**
 * Documents derived from an official one that marks properties `x-nullable` (ARM merge-patch: a null
 * removes, e.g. a kustomization in a fluxConfigurations PATCH): there `x-nullable: true` next to a `type`
 * becomes ajv's `nullable`, so a null is accepted where Azure accepts one (and a `type` beside a `$ref`
 * is dropped, as draft 4 ignores it).
 */
const NULLABLE_DOCUMENTS = new Set(["fluxConfigurations"]);

function nullable<T>(node: T): T {
  if (Array.isArray(node)) return node.map(nullable) as T;
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = nullable(value);
  // a `type` beside a `$ref` is ignored by Swagger 2.0 (JSON Schema draft 4) but applied by ajv: the $ref decides
  if (out.$ref !== undefined) delete out.type;
  else if (out["x-nullable"] === true && typeof out.type === "string") out.nullable = true;
  return out as T;
}

/** an operation described by several documents must be validated at a named api-version */
const AMBIGUOUS: ValidateFunction = Object.assign(
  () => {
    throw new Error("this operation has a schema per api-version: validate it at one");
  },
  { errors: null },
) as unknown as ValidateFunction;


/** "/properties/operatorScope" -> "properties.operatorScope"; a missing or refused property is named itself */
function targetOf(error: ErrorObject): string {
  const base = error.instancePath.replace(/^\//, "").split("/").filter(Boolean).join(".");
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const named = error.keyword === "required" ? params.missingProperty : error.keyword === "additionalProperties" ? params.additionalProperty : undefined;
  // submitted names can be long: the caller clips the whole target once
  return [base, named === undefined ? "" : String(named)].filter(Boolean).join(".") || "body";
}

function messageOf(error: ErrorObject, target: string): string {
  if (error.keyword === "required") return `The property '${target}' is required.`;
  if (error.keyword === "additionalProperties") return `The property '${target}' cannot be set in this request: it is read-only or not part of the operation's schema.`;
  if (error.keyword === "enum") {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    return `The value of '${target}' must be one of: ${allowed.map(String).join(", ")}.`;
  }
  return `The value of '${target}' ${error.message ?? "is invalid"}.`;
}

/**
 * `apiVersion` picks the schema of the document that describes the operation at that version; without
 * it, the operation must be described by one document only. allErrors lists every failure, which for a hostile body can be one per submitted key: the first
 * MAX_DETAILS distinct problems are kept and the rest only counted, and a target (built from
 * submitted property names) is clipped like any quoted value.
 */
export function validateRequestBody(operationId: string, body: unknown, apiVersion?: string): void {
  validators ??= compileAll(documents());
  const validate = validators.get(keyOf(operationId, apiVersion ?? ""));
  if (!validate || validate(body)) return;
  const seen = new Set<string>();
  const problems: ArmErrorDetail[] = [];
  let omitted = 0;
  for (const error of validate.errors ?? []) {
    const target = clip(targetOf(error));
    const message = messageOf(error, target);
    if (seen.has(message)) continue;
    seen.add(message);
    if (problems.length >= MAX_DETAILS) omitted++;
    else problems.push({ code: "InvalidRequestContent", message, target });
  }
  throw errors.invalidParameters(problems, omitted);
}
