/**
 * The error catalogue (ERROR_CODES in src/arm/errors.ts) against its uses and its documentation, in
 * the spirit of fastify's test tying its error list to its docs: every code is answered somewhere in
 * src/, and docs/errors.md is the table generated from the catalogue (UPDATE_DOCS=1 rewrites it).
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { ArmError, ERROR_CODES, errors, type ErrorCode } from "../../src/arm/errors.js";
import { Problems } from "../../src/domain/validation/problems.js";

const root = new URL("../../", import.meta.url).pathname;
const DOC = path.join(root, "docs/errors.md");
const BEGIN = "<!-- BEGIN error catalogue: generated from ERROR_CODES in src/arm/errors.ts by test/unit/error-catalogue.test.ts -->";
const END = "<!-- END error catalogue -->";

export function renderTable(): string {
  const rows = (Object.entries(ERROR_CODES) as [ErrorCode, string][]).map(([code, meaning]) => {
    const [status, text] = /^\d{3}: /.test(meaning) ? [meaning.slice(0, 3), meaning.slice(5)] : ["–", meaning];
    return `| \`${code}\` | ${status} | ${text.replace(/\|/g, "\\|")} |`;
  });
  return [BEGIN, "| code | status | meaning |", "|---|---|---|", ...rows, END].join("\n");
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith(".ts") ? [full] : [];
  });
}

t.test("docs/errors.md is the table generated from the catalogue", async (t) => {
  const table = renderTable();
  const doc = fs.readFileSync(DOC, "utf8");
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  t.ok(start >= 0 && end > start, "docs/errors.md has the generated block");
  const current = doc.slice(start, end + END.length);
  if (process.env.UPDATE_DOCS === "1" && current !== table) fs.writeFileSync(DOC, doc.slice(0, start) + table + doc.slice(end + END.length));
  else t.equal(current, table, "regenerate with UPDATE_DOCS=1 npx tap test/unit/error-catalogue.test.ts");
});

t.test("every code of the catalogue is used in src/, outside the catalogue itself", async (t) => {
  const texts = sourceFiles(path.join(root, "src")).map((file) => {
    const text = fs.readFileSync(file, "utf8");
    if (!file.endsWith(path.join("src", "arm", "errors.ts"))) return text;
    // the catalogue's own keys do not count as uses
    const start = text.indexOf("export const ERROR_CODES");
    return text.slice(0, start) + text.slice(text.indexOf("} as const satisfies", start));
  });
  for (const code of Object.keys(ERROR_CODES)) {
    t.ok(texts.some((text) => text.includes(`"${code}"`)), `${code} is answered somewhere`);
  }
});

t.test("every code has a meaning that says its HTTP status (or that it is a detail line)", async (t) => {
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    t.match(meaning, /^(\d{3}: |a detail line)/, code);
  }
});

t.test("refusals carry catalogue codes: factories, Problems, capped details", async (t) => {
  const made: ArmError[] = [errors.invalidSkipToken(), errors.internal(), errors.conflict("x"), errors.unavailable(1)];
  for (const e of made) t.ok(e.code in ERROR_CODES, e.code);
  const problems = new Problems();
  for (let i = 0; i < 30; i++) problems.add(`f${i}`, "bad", "SensitiveInputNotAllowed");
  const err = t.throws(() => problems.throwIfAny()) as ArmError;
  const body = err.toBody();
  t.equal(body.error.code, "SensitiveInputNotAllowed");
  for (const d of body.error.details ?? []) t.ok(d.code in ERROR_CODES, d.code);
  t.equal(body.error.details?.at(-1)?.code, "MoreDetailsOmitted");
});
