/**
 * The agent may not import the service, so two rules exist twice: the repository URL rule and the command-line
 * splitter. Each shared table runs through both copies here; they must agree with each other and with the table.
 */
import fs from "node:fs";
import fc from "fast-check";
import t from "tap";
import { checkRepositoryUrl as agentCheck } from "../../src/agent/repository-url.js";
import { splitArgs as agentSplit } from "../../src/agent/manifests.js";
import { checkRepositoryUrl as serviceCheck } from "../../src/domain/validation/repository-url.js";
import { splitArgs as serviceSplit } from "../../src/domain/validation/args.js";
import { REPOSITORY_URL_CASES } from "../helpers/repository-url-cases.js";
import { ARG_SPLIT_CASES, UNCLOSED } from "../helpers/arg-split-cases.js";

/** printable ASCII only: a raw U+2028 in a test name would cut the TAP stream */
const show = (s: string): string =>
  JSON.stringify(s.length > 70 ? `${s.slice(0, 70)}...` : s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

t.test("repository URL: the service and the agent give the table's answer", async (t) => {
  const accepted = REPOSITORY_URL_CASES.filter(([, e]) => typeof e === "string").length;
  t.ok(accepted >= 20 && REPOSITORY_URL_CASES.length - accepted >= 80, "the table holds many cases of each kind");
  for (const [url, expected] of REPOSITORY_URL_CASES) {
    const service = serviceCheck(url);
    const agent = agentCheck(url);
    t.same(agent, service, `same answer for ${show(url)}`);
    if (typeof expected === "string") t.same(service, { ok: true, transport: expected }, `accepted as ${expected}: ${show(url)}`);
    else {
      t.equal(service.ok, false, `refused: ${show(url)}`);
      const reason = service.ok ? "" : service.reason;
      t.match(reason, expected, `reason for ${show(url)}: ${reason}`);
      // a refusal never quotes the URL (it may be refused for the secret it holds)
      t.notOk(url.length > 3 && reason.includes(url), "the reason does not quote the URL");
      t.notOk(/abc|ghp_|glpat|pw@|ProxyCommand/.test(reason), "the reason quotes no part of the URL");
    }
  }
});

t.test("command-line splitting: the service and the agent split alike", async (t) => {
  for (const [line, expected] of ARG_SPLIT_CASES) {
    const service = serviceSplit(line);
    let agent: string[] | typeof UNCLOSED;
    try {
      agent = agentSplit(line);
    } catch (err) {
      t.match((err as Error).message, /quote is not closed/);
      t.notOk((err as Error).message.includes(line) && line.length > 2, "the agent's error does not quote the line");
      agent = UNCLOSED;
    }
    t.same(service.ok ? service.args : UNCLOSED, expected, `service: ${show(line)}`);
    t.same(agent, expected, `agent: ${show(line)}`);
  }
});

t.test("random inputs: the two copies never disagree", async (t) => {
  const pieces = ["a", "-", "%2d", "%00", "%", "@", ":", "/", "//", "?", "#", "=", "&", ";", "token", "git", "host", "ssh://", "https://", "[::1]", "\u0007", " ", "'", '"', "\\", "$", "\n", "\u0085", "é"];
  const text = fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 4 })), { maxLength: 12 }).map((p) => p.join(""));
  fc.assert(
    fc.property(text, (s) => {
      let agent: string[] | undefined;
      try {
        agent = agentSplit(s);
      } catch {
        agent = undefined;
      }
      const service = serviceSplit(s);
      return JSON.stringify(agent) === JSON.stringify(service.ok ? service.args : undefined) && JSON.stringify(agentCheck(s)) === JSON.stringify(serviceCheck(s));
    }),
    { numRuns: 3000 },
  );
  t.pass("3000 random inputs");
});

t.test("the agent's URL rule is the service's, line for line (the copy is a copy)", async (t) => {
  const body = (file: string): string => {
    const text = fs.readFileSync(new URL(`../../src/${file}`, import.meta.url), "utf8");
    return text.slice(text.indexOf("export type RepositoryTransport"), text.indexOf("export const REDACTED") >= 0 ? text.indexOf("export const REDACTED") : undefined).trimEnd();
  };
  t.equal(body("agent/repository-url.ts"), body("domain/validation/repository-url.ts"));
});
