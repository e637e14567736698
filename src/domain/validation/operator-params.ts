/**
 * `operatorParams` are Flux v1 daemon flags. They are parsed (pflag syntax: --name=value, --name value,
 * bare --name for booleans; quotes group words) and checked against two lists: flags the user may set,
 * and flags the service owns. Anything on neither list is refused, so a typo or an unvetted flag
 * never reaches a cluster. The lists are documented in docs/operator-params.md. The split is the one the agent
 * runs too (src/contract/args.ts), so the flags checked here are the flags the agent writes. No value may start with '-'
 * (Flux hands values to git, where it would read as an option) or hold a control character.
 */
import { ARG_CONTROL, ARG_VALUE_CONTROL, splitArgs } from "../../contract/args.js";
import { clip, quote as quoted } from "../../arm/quote.js";

type ValueKind = "bool" | "duration" | "string" | "path" | "ref" | "syncState";

export const USER_FLAGS: Readonly<Record<string, ValueKind>> = {
  "git-branch": "ref",
  "git-path": "path",
  "git-readonly": "bool",
  "git-poll-interval": "duration",
  "git-timeout": "duration",
  "git-label": "ref",
  "git-sync-tag": "ref",
  "git-notes-ref": "ref",
  "git-user": "string",
  "git-email": "string",
  "git-set-author": "bool",
  "git-ci-skip": "bool",
  "git-ci-skip-message": "string",
  "git-verify-signatures": "bool",
  "sync-interval": "duration",
  "sync-timeout": "duration",
  "sync-garbage-collection": "bool",
  "sync-garbage-collection-dry": "bool",
  "sync-state": "syncState",
  "manifest-generation": "bool",
  "registry-disable-scanning": "bool",
  "registry-poll-interval": "duration",
  "registry-exclude-image": "string",
};

/** set by the service from the resource (repositoryUrl, operatorScope, protected settings) or its deployment */
export const SERVICE_FLAGS: Readonly<Record<string, string>> = {
  "git-url": "it comes from properties.repositoryUrl",
  "k8s-allow-namespace": "it follows from properties.operatorScope",
  "k8s-secret-name": "the service manages the deploy key secret",
  "git-secret": "the service manages repository credentials (use configurationProtectedSettings)",
  "ssh-keygen-dir": "the service manages the deploy key",
  "listen": "the service owns the operator's endpoints",
  "listen-metrics": "the service owns the operator's endpoints",
  "memcached-hostname": "the service deploys the operator's cache",
  "memcached-port": "the service deploys the operator's cache",
  "memcached-service": "the service deploys the operator's cache",
  "connect": "the service owns the operator's upstream connection",
  "token": "the service owns the operator's upstream connection",
};

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const REF = /^(?!.*\.\.)(?!\/)(?!.*\/$)(?!-)(?!.*\/-)[A-Za-z0-9._\/-]{1,250}$/;

function valueProblem(kind: ValueKind, value: string): string | undefined {
  if (ARG_VALUE_CONTROL.test(value)) return "holds a control character";
  switch (kind) {
    case "bool":
      return /^(true|false)$/i.test(value) ? undefined : "must be true or false";
    case "duration":
      return DURATION.test(value) && (value.match(/\d+(\.\d+)?/g) ?? []).some((n) => Number(n) > 0) ? undefined : "must be a positive duration such as 30s, 5m or 1h";
    case "ref":
      return REF.test(value) ? undefined : "must be a valid Git reference name";
    case "path":
      return value.split(",").every((p) => p.length > 0 && !p.startsWith("/") && !p.split("/").some((seg) => seg === ".." || seg.startsWith("-"))) ? undefined : "must be comma-separated paths relative to the repository root, no segment starting with '-'";
    case "syncState":
      return value === "git" || value === "secret" ? undefined : "must be git or secret";
    case "string":
      if (value.startsWith("-")) return "must not start with '-'";
      return value.length > 0 && value.length <= 256 ? undefined : "must be 1 to 256 printable characters";
  }
}

/** one flag of accepted operatorParams: its name without the dashes, its value ("true" for a bare boolean) */
export interface OperatorFlag {
  name: string;
  value: string;
}

export type ParsedOperatorParams = { ok: true; flags: OperatorFlag[] } | { ok: false; problem: string };

/** the flags of `input` in order, parsed as the agent splits them, or the first problem */
export function parseOperatorParams(input: string): ParsedOperatorParams {
  const fail = (problem: string): ParsedOperatorParams => ({ ok: false, problem });
  if (ARG_CONTROL.test(input)) return fail("they hold a control character");
  const split = splitArgs(input);
  if (!split.ok) return fail(split.reason);
  const tokens = split.args;
  const seen = new Set<string>();
  const flags: OperatorFlag[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    const match = /^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(token);
    if (!match) return fail(`${quoted(token)} is not a --flag (Flux daemon flags are written --name=value)`);
    const name = match[1] ?? "";
    let value = match[2];
    const owned = SERVICE_FLAGS[name];
    if (owned) return fail(`--${name} cannot be set: ${owned}`);
    const kind = USER_FLAGS[name];
    if (!kind) return fail(`--${clip(name)} is not a Flux daemon flag this service allows (see docs/operator-params.md)`);
    if (seen.has(name) && kind !== "string") return fail(`--${name} is given more than once`);
    seen.add(name);
    if (value === undefined) {
      if (kind === "bool") {
        flags.push({ name, value: "true" });
        continue;
      }
      const next = tokens[i + 1];
      if (next === undefined || next.startsWith("--")) return fail(`--${name} needs a value`);
      value = next;
      i++;
    }
    const problem = valueProblem(kind, value);
    if (problem) return fail(`--${name} ${problem}`);
    flags.push({ name, value });
  }
  return { ok: true, flags };
}

/** undefined when every flag is allowed and well-formed, else the first problem */
export function operatorParamsProblem(input: string): string | undefined {
  const parsed = parseOperatorParams(input);
  return parsed.ok ? undefined : parsed.problem;
}
