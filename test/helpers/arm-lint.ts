/**
 * Runs the Azure ARM Spectral ruleset (the rules LintDiff applies to azure-rest-api-specs, from
 * @microsoft.azure/openapi-validator-rulesets) on one swagger file, in process.
 *
 * The payload carries properties Spectral's schema rejects (rpcGuidelineCode, stagingOnly, ...); they are
 * removed, and rules marked stagingOnly are switched off, as LintDiff does. `$ref`s to other files are
 * resolved by spectral-core's default http-and-file resolver, relative to the linted file.
 * See /work/shared/reference/sdk-notes.md section 4 and openapi/LINT.md.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { Document, Ruleset, Spectral } from "@stoplight/spectral-core";
// transitive dependency of @stoplight/spectral-core (not a direct one): only its JSON parser is needed.
// A CommonJS module whose named exports Node cannot detect, hence the default import.
import spectralParsers from "@stoplight/spectral-parsers";

const { Json } = spectralParsers;

export interface LintFinding {
  /** rule name, e.g. "ResourceNameRestriction" (or "invalid-ref" for an unresolvable $ref) */
  code: string;
  severity: "error" | "warning" | "info" | "hint";
  /** JSON path of the finding, dot-joined */
  path: string;
  message: string;
  /** 1-based line in the file */
  line: number;
}

const SEVERITIES = ["error", "warning", "info", "hint"] as const;

type Payload = { rules: Record<string, unknown>; extends?: Payload[] };
interface RulesetsModule {
  spectralRulesets: { azARM: Payload };
  getNamesOfRulesInPayloadWithPropertySetToTrue(p: Payload, prop: string): string[];
  deleteRulesPropertiesInPayloadNotValidForSpectralRules(p: Payload): void;
}

let spectral: Spectral | undefined;

/** the ruleset is built once per process (it is a shared, mutated module object) */
function armSpectral(): Spectral {
  if (spectral) return spectral;
  const require = createRequire(import.meta.url);
  const rs = require("@microsoft.azure/openapi-validator-rulesets") as RulesetsModule;
  const payload = rs.spectralRulesets.azARM;
  const staging = new Set(rs.getNamesOfRulesInPayloadWithPropertySetToTrue(payload, "stagingOnly"));
  rs.deleteRulesPropertiesInPayloadNotValidForSpectralRules(payload);
  const off = (p: Payload): void => {
    for (const [name, rule] of Object.entries(p.rules)) {
      if (staging.has(name) && rule && typeof rule === "object") (rule as { severity?: unknown }).severity = "off";
    }
    (p.extends ?? []).forEach(off);
  };
  off(payload);
  const s = new Spectral();
  // the payload is a plain JS ruleset object (functions included), as Spectral's own loader would produce
  s.setRuleset(new Ruleset(payload as never, { severity: "recommended" }));
  spectral = s;
  return s;
}

/** lints one swagger (OpenAPI 2.0) JSON file with the az-arm ruleset */
export async function lintDocument(file: string): Promise<LintFinding[]> {
  const source = resolve(file);
  const text = await readFile(source, "utf8");
  const results = await armSpectral().run(new Document(text, Json, source));
  return results
    .map((r) => ({
      code: String(r.code),
      severity: SEVERITIES[r.severity] ?? "hint",
      path: r.path.join("."),
      message: r.message,
      line: r.range.start.line + 1,
    }))
    .sort((a, b) => a.line - b.line || a.code.localeCompare(b.code));
}

/** counts findings by rule code */
export function countByCode(findings: LintFinding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of findings) out[f.code] = (out[f.code] ?? 0) + 1;
  return out;
}
