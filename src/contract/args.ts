/**
 * The one command-line splitter (docs/operator-params.md). The service splits `operatorParams` and
 * `helmOperatorProperties.chartValues` with it at PUT time (src/domain/validation), the reference agent when it
 * writes the Deployments (src/agent/manifests.ts), so what the service accepts is exactly what the agent runs:
 * whitespace separates, '...' and "..." group (quotes removed, also mid-word as in --git-user="Flux Bot"), a
 * backslash outside single quotes escapes the next character (inside double quotes only before '"' or '\').
 * test/helpers/arg-split-cases.ts is its table. A refusal never quotes the line.
 */
export type SplitArgs = { ok: true; args: string[] } | { ok: false; reason: string };

export function splitArgs(line: string | undefined): SplitArgs {
  const args: string[] = [];
  if (!line) return { ok: true, args };
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === "\\")) current += line[++i];
      else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) args.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) return { ok: false, reason: `a ${quote} quote is not closed` };
  if (inWord) args.push(current);
  return { ok: true, args };
}

/** control and invisible formatting characters; whitespace between arguments (tab, CR, LF) is not one of them */
export const ARG_CONTROL = /(?![\t\n\r])[\p{Cc}\p{Cf}]/u;
/** inside one argument nothing of the kind is allowed */
export const ARG_VALUE_CONTROL = /[\p{Cc}\p{Cf}]/u;
