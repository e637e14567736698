/**
 * `operatorParams` are Flux v1 daemon flags. They are parsed (pflag syntax: --name=value, --name value,
 * bare --name for booleans; quotes group words) and checked against two lists: flags the user may set,
 * and flags the service owns. Anything on neither list is refused, so a typo or an unvetted flag
 * never reaches a cluster. The lists are documented in docs/operator-params.md.
 */
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
const REF = /^(?!.*\.\.)(?!\/)(?!.*\/$)[A-Za-z0-9._\/-]{1,250}$/;

function tokenize(input: string): string[] | string {
  const tokens: string[] = [];
  let current = "";
  let quote: '"' | "'" | undefined;
  let inToken = false;
  for (const ch of input) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = "";
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) return "a quote is not closed";
  if (inToken) tokens.push(current);
  return tokens;
}

function valueProblem(kind: ValueKind, value: string): string | undefined {
  switch (kind) {
    case "bool":
      return /^(true|false)$/i.test(value) ? undefined : "must be true or false";
    case "duration":
      return DURATION.test(value) && (value.match(/\d+(\.\d+)?/g) ?? []).some((n) => Number(n) > 0) ? undefined : "must be a positive duration such as 30s, 5m or 1h";
    case "ref":
      return REF.test(value) ? undefined : "must be a valid Git reference name";
    case "path":
      return value.split(",").every((p) => p.length > 0 && !p.startsWith("/") && !p.split("/").includes("..")) ? undefined : "must be comma-separated paths relative to the repository root";
    case "syncState":
      return value === "git" || value === "secret" ? undefined : "must be git or secret";
    case "string":
      return value.length > 0 && value.length <= 256 && !/[\u0000-\u001f]/.test(value) ? undefined : "must be 1 to 256 printable characters";
  }
}

/** undefined when every flag is allowed and well-formed, else the first problem */
export function operatorParamsProblem(input: string): string | undefined {
  const tokens = tokenize(input);
  if (typeof tokens === "string") return tokens;
  const seen = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    const match = /^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(token);
    if (!match) return `${quoted(token)} is not a --flag (Flux daemon flags are written --name=value)`;
    const name = match[1] ?? "";
    let value = match[2];
    const owned = SERVICE_FLAGS[name];
    if (owned) return `--${name} cannot be set: ${owned}`;
    const kind = USER_FLAGS[name];
    if (!kind) return `--${clip(name)} is not a Flux daemon flag this service allows (see docs/operator-params.md)`;
    if (seen.has(name) && kind !== "string") return `--${name} is given more than once`;
    seen.add(name);
    if (value === undefined) {
      if (kind === "bool") continue;
      const next = tokens[i + 1];
      if (next === undefined || next.startsWith("--")) return `--${name} needs a value`;
      value = next;
      i++;
    }
    const problem = valueProblem(kind, value);
    if (problem) return `--${name} ${problem}`;
  }
  return undefined;
}
