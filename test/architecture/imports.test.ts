/**
 * The import rules, enforced. Each folder of src/ that holds code states in its README.md, on one line,
 * what its files may import:
 *
 *   May import: arm, ports, store/port, node:*, npm:jose
 *
 * - `arm` (a folder under src/) allows everything under it; `store/port` (a module, no extension) only it;
 * - `/migrations` is a folder of the repository outside src/;
 * - `node:*` allows node's built-ins; `npm:<name>` one npm package; `any npm package` every one;
 * - a file may always import the files of its own folder (not its sub-folders: they are listed).
 *
 * src/store/README.md also says who may touch the store port at all ("store/port imported only by: ..."),
 * whatever their own README allows. Every import counts: static, `export ... from`, side-effect and
 * dynamic `import()`, type-only ones included (they are arrows too). README.md's layout table repeats
 * each folder's line; the folder READMEs are the source of truth and the table must agree.
 * test/ and bench/ may import anything and are not checked.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = path.join(ROOT, "src");
const MAY_IMPORT = /^May import: (.+)$/m;
const PORT_IMPORTERS = /^store\/port imported only by: (.+)$/m;
const PORT_MODULE = "store/port";

interface Rule {
  /** the README the rule was read from, repository-relative */
  readme: string;
  line: string;
  entries: string[];
}

interface Arrow {
  /** the importing file, repository-relative */
  file: string;
  /** the specifier as written */
  specifier: string;
  /** what it names: `src/`-relative module without extension, `/dir/module` outside src/, `node:x`, or a package name */
  target: string;
  kind: "src" | "repo" | "node" | "npm";
}

const rel = (abs: string): string => path.relative(ROOT, abs).split(path.sep).join("/");
const srcRel = (abs: string): string => path.relative(SRC, abs).split(path.sep).join("/");
const entriesOf = (line: string): string[] => line.split(",").map((e) => e.trim()).filter((e) => e.length > 0);

function codeFolders(dir: string): string[] {
  const found: string[] = [];
  const items = fs.readdirSync(dir, { withFileTypes: true });
  if (items.some((i) => i.isFile() && i.name.endsWith(".ts"))) found.push(dir);
  for (const i of items) if (i.isDirectory()) found.push(...codeFolders(path.join(dir, i.name)));
  return found;
}

const sourceFiles = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).filter((i) => i.isFile() && i.name.endsWith(".ts")).map((i) => path.join(dir, i.name));

function readRule(folder: string): Rule | string {
  const readme = path.join(folder, "README.md");
  if (!fs.existsSync(readme)) return `${rel(folder)}/ holds code but has no README.md with a "May import:" line`;
  const matches = fs.readFileSync(readme, "utf8").match(new RegExp(MAY_IMPORT.source, "gm")) ?? [];
  if (matches.length !== 1) return `${rel(readme)} must have exactly one "May import:" line (found ${matches.length})`;
  const line = matches[0] ?? "";
  return { readme: rel(readme), line, entries: entriesOf(line.replace(/^May import: /, "")) };
}

/** the ids a TypeScript file imports, comments and strings aside (the compiler's own pre-parser) */
function arrowsOf(file: string): Arrow[] {
  const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map(({ fileName: specifier }) => {
    if (specifier.startsWith(".")) {
      const abs = path.resolve(path.dirname(file), specifier).replace(/\.(js|ts)$/, "");
      const inSrc = abs.startsWith(SRC + path.sep);
      return { file: rel(file), specifier, target: inSrc ? srcRel(abs) : "/" + rel(abs), kind: inSrc ? "src" : "repo" };
    }
    if (specifier.startsWith("node:")) return { file: rel(file), specifier, target: specifier, kind: "node" };
    const parts = specifier.split("/");
    const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
    return { file: rel(file), specifier, target: name, kind: "npm" };
  });
}

/** whether a path entry (`arm`, `store/port`, `/migrations`) covers a target of the same kind */
const covers = (entry: string, target: string): boolean => target === entry || target.startsWith(entry + "/");

function allowedBy(entries: string[], arrow: Arrow): boolean {
  switch (arrow.kind) {
    case "node":
      return entries.includes("node:*");
    case "npm":
      return entries.includes("any npm package") || entries.includes(`npm:${arrow.target}`);
    case "repo":
      return entries.some((e) => e.startsWith("/") && covers(e, arrow.target));
    case "src":
      return entries.some((e) => !e.startsWith("/") && !e.includes(":") && e !== "any npm package" && covers(e, arrow.target));
  }
}

/** a path entry that names nothing is a typo: it would allow nothing, or something unintended later */
function missingEntries(rule: Rule): string[] {
  const pathEntries = rule.entries.filter((e) => !e.includes(":") && e !== "any npm package");
  return pathEntries.filter((e) => {
    const base = e.startsWith("/") ? path.join(ROOT, e) : path.join(SRC, e);
    return !fs.existsSync(base) && !fs.existsSync(base + ".ts");
  });
}

const folders = codeFolders(SRC);
const rules = new Map<string, Rule>();
const ruleProblems: string[] = [];
for (const folder of folders) {
  const rule = readRule(folder);
  if (typeof rule === "string") ruleProblems.push(rule);
  else rules.set(folder, rule);
}

const storeReadme = fs.readFileSync(path.join(SRC, "store", "README.md"), "utf8");
const portLine = storeReadme.match(PORT_IMPORTERS)?.[0];
const portImporters = portLine ? entriesOf(portLine.replace(/^store\/port imported only by: /, "")) : [];

t.test("every folder of src/ with code states its rule, and every entry names something", async (t) => {
  t.same(ruleProblems, [], "folders without a usable rule");
  for (const rule of rules.values()) t.same(missingEntries(rule), [], `${rule.readme}: entries that name no folder or module`);
  t.ok(portLine, `src/store/README.md has a "store/port imported only by:" line`);
  t.same(missingEntries({ readme: "src/store/README.md", line: portLine ?? "", entries: portImporters }), [], "store/port importers that name nothing");
});

t.test("every import in src/ keeps its folder's rule", async (t) => {
  const violations: string[] = [];
  for (const folder of folders) {
    const rule = rules.get(folder);
    if (!rule) continue;
    for (const file of sourceFiles(folder)) {
      for (const arrow of arrowsOf(file)) {
        const sameFolder = arrow.kind === "src" && path.dirname(arrow.target) === srcRel(folder).replace(/^$/, ".");
        if (!sameFolder && !allowedBy(rule.entries, arrow)) {
          violations.push(`${arrow.file} imports "${arrow.specifier}" (${arrow.target}), not allowed by ${rule.readme}: "${rule.line}"`);
        }
        const fromStore = srcRel(file).startsWith("store/");
        if (arrow.kind === "src" && arrow.target === PORT_MODULE && !fromStore) {
          const importer = srcRel(file).replace(/\.ts$/, "");
          if (!portImporters.some((e) => covers(e, importer))) {
            violations.push(`${arrow.file} imports "${arrow.specifier}" (store/port), not allowed by src/store/README.md: "${portLine ?? "(missing)"}"`);
          }
        }
      }
    }
  }
  t.same(violations, [], "imports that break a rule (fix the import, or change the README that owns the rule)");
});

t.test("README.md's layout table agrees with the folder READMEs", async (t) => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const table = new Map<string, string>();
  for (const [, folder, mayImport] of readme.matchAll(/^\| `src\/([^`]*)` \|[^|]*\| (.*) \|$/gm)) {
    table.set(path.join(SRC, (folder ?? "").replace(/\/$/, "")), (mayImport ?? "").replace(/`/g, ""));
  }
  for (const [folder, rule] of rules) {
    const name = srcRel(folder) ? `src/${srcRel(folder)}/` : "src/";
    t.equal(table.get(folder), rule.entries.join(", "), `README.md's layout row for ${name} repeats ${rule.readme}`);
  }
});
