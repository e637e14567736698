/**
 * How `helmOperatorProperties.chartValues` are read (helm-style `--set k=v,k2=v2`, also `--set-string`, `--set=…`),
 * once for both programs: the service checks the pairs at PUT time (src/domain/validation/chart-values.ts), the
 * reference agent turns the ones it knows into helm-operator flags (src/agent/manifests.ts). Tokens come from the
 * contract's splitter (./args.ts); other tokens are ignored by both.
 */
/** the `k=v` pairs of every --set / --set-string, in order; a part without a key before '=' is skipped */
export function setValuePairs(tokens: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    let spec: string | undefined;
    if (t === "--set" || t === "--set-string") spec = tokens[++i];
    else if (t.startsWith("--set=")) spec = t.slice("--set=".length);
    else if (t.startsWith("--set-string=")) spec = t.slice("--set-string=".length);
    if (spec === undefined) continue;
    for (const part of spec.split(",")) {
      const eq = part.indexOf("=");
      if (eq <= 0) continue;
      pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
    }
  }
  return pairs;
}
