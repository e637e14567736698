/**
 * The rules the service and the reference agent share live once, in src/contract/. The shared tables run through
 * that one copy and through each program's use of it (the service's PUT validation, the agent's splitter), and no
 * file outside src/contract declares them again.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import t from "tap";
import { ArmError } from "../../src/arm/errors.js";
import { splitArgs as agentSplit, parseSetValues as agentSetValues } from "../../src/agent/manifests.js";
import { splitArgs } from "../../src/contract/args.js";
import { setValuePairs } from "../../src/contract/chart-values.js";
import { checkRepositoryUrl } from "../../src/contract/repository-url.js";
import { validateConfigurationPut } from "../../src/domain/validation/configuration.js";
import { REPOSITORY_URL_CASES } from "../helpers/repository-url-cases.js";
import { ARG_SPLIT_CASES, UNCLOSED } from "../helpers/arg-split-cases.js";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

/** printable ASCII only: a raw U+2028 in a test name would cut the TAP stream */
const show = (s: string): string =>
  JSON.stringify(s.length > 70 ? `${s.slice(0, 70)}...` : s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** the message of the service's refusal of a configuration PUT with this URL, or undefined when it is accepted */
function servicePutRefusal(url: string): string | undefined {
  try {
    validateConfigurationPut({ name: "cfg", properties: { repositoryUrl: url } });
    return undefined;
  } catch (err) {
    if (!(err instanceof ArmError)) throw err;
    return [err.message, ...(err.details ?? []).map((d) => d.message)].join(" | ");
  }
}

t.test("repository URL: the contract's rule gives the table's answer, and the service's PUT follows it", async (t) => {
  const accepted = REPOSITORY_URL_CASES.filter(([, e]) => typeof e === "string").length;
  t.ok(accepted >= 20 && REPOSITORY_URL_CASES.length - accepted >= 80, "the table holds many cases of each kind");
  for (const [url, expected] of REPOSITORY_URL_CASES) {
    const check = checkRepositoryUrl(url);
    const put = servicePutRefusal(url);
    if (typeof expected === "string") {
      t.same(check, { ok: true, transport: expected }, `accepted as ${expected}: ${show(url)}`);
      t.equal(put, undefined, `the service's PUT accepts ${show(url)}`);
    } else {
      t.equal(check.ok, false, `refused: ${show(url)}`);
      const reason = check.ok ? "" : check.reason;
      t.match(reason, expected, `reason for ${show(url)}: ${reason}`);
      // (an empty URL is refused before the rule runs: the property counts as missing)
      if (url === "") t.match(put, /'repositoryUrl' is required/, "the service's PUT refuses an empty URL as missing");
      else t.ok(put?.includes(`The repository URL is not accepted: ${reason}.`), `the service's PUT refuses ${show(url)} for the same reason`);
      // a refusal never quotes the URL (it may be refused for the secret it holds)
      t.notOk(url.length > 3 && reason.includes(url), "the reason does not quote the URL");
      t.notOk(/abc|ghp_|glpat|pw@|ProxyCommand/.test(reason), "the reason quotes no part of the URL");
    }
  }
});

t.test("command-line splitting: the contract's splitter and the agent's use of it split as the table says", async (t) => {
  for (const [line, expected] of ARG_SPLIT_CASES) {
    const split = splitArgs(line);
    let agent: string[] | typeof UNCLOSED;
    try {
      agent = agentSplit(line);
    } catch (err) {
      t.match((err as Error).message, /quote is not closed in the parameters/);
      t.notOk((err as Error).message.includes(line) && line.length > 2, "the agent's error does not quote the line");
      agent = UNCLOSED;
    }
    t.same(split.ok ? split.args : UNCLOSED, expected, `contract: ${show(line)}`);
    t.same(agent, expected, `agent: ${show(line)}`);
  }
});

t.test("random inputs: the agent splits and reads chart values exactly as the contract does", async (t) => {
  const pieces = ["a", "-", "--set", "--set=", "--set-string", "=", ",", "k=v", "%", " ", "'", '"', "\\", "$", "\n", "\u0085", "é"];
  const text = fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 4 })), { maxLength: 12 }).map((p) => p.join(""));
  fc.assert(
    fc.property(text, (s) => {
      const split = splitArgs(s);
      let agent: unknown;
      let pairs: unknown;
      try {
        agent = agentSplit(s);
        pairs = agentSetValues(s);
      } catch {
        agent = pairs = undefined;
      }
      return JSON.stringify(agent) === JSON.stringify(split.ok ? split.args : undefined) && JSON.stringify(pairs) === JSON.stringify(split.ok ? setValuePairs(split.args) : undefined);
    }),
    { numRuns: 3000 },
  );
  t.pass("3000 random inputs");
});

t.test("no copy: the shared rules and wire shapes are declared only in src/contract", async (t) => {
  const declarations = [
    /\bfunction checkRepositoryUrl\b/,
    /\bfunction setValuePairs\b/,
    /\bconst ARG_(VALUE_)?CONTROL\b/,
    /\bSplitArgs\s*=/,
    /\b(interface|type) (StatusReport|FluxStatusReport|Heartbeat|FluxObjectStatus|FluxPostBuild|FluxKustomization|FluxComplianceState|ComplianceState|MessageLevel)\b\s*[={]/,
    /\bFLUX_COMPLIANCE_STATES\s*=/,
  ];
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const item of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, item.name);
      if (item.isDirectory()) {
        if (full !== path.join(SRC, "contract")) walk(full);
      } else if (item.name.endsWith(".ts")) {
        const text = fs.readFileSync(full, "utf8");
        for (const d of declarations) if (d.test(text)) found.push(`${path.relative(SRC, full)}: ${d.source}`);
      }
    }
  };
  walk(SRC);
  t.same(found, [], "declared again outside src/contract");
  // the check above is not vacuous: the contract declares each of them
  const contract = fs.readdirSync(path.join(SRC, "contract")).filter((f) => f.endsWith(".ts")).map((f) => fs.readFileSync(path.join(SRC, "contract", f), "utf8")).join("\n");
  for (const d of declarations) t.match(contract, d, `src/contract declares ${d.source}`);
});
