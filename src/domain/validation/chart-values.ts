/**
 * `helmOperatorProperties.chartValues`: helm-style `--set k=v,k2=v2` (also `--set-string`, `--set=…`). The agent
 * (src/agent/manifests.ts) reads them as this file does, with the contract's splitter and pair reader
 * (src/contract/args.ts, src/contract/chart-values.ts), and turns the values it knows into helm-operator flags
 * (`--workers=<v>`, `--git-default-ref=<v>`, …). So they are parsed here, at PUT time: an unclosed quote, a
 * control character, or a value starting with '-' (an option to git once helm-operator passes it on) is refused
 * now, instead of failing, or worse, on the cluster. Other tokens are ignored, as the agent does.
 */
import { ARG_CONTROL, ARG_VALUE_CONTROL, splitArgs } from "../../contract/args.js";
import { setValuePairs } from "../../contract/chart-values.js";
import { quote } from "../../arm/quote.js";

/** undefined when the agent can use the chart values as they are, else the first problem (values are not quoted) */
export function chartValuesProblem(chartValues: string): string | undefined {
  if (ARG_CONTROL.test(chartValues)) return "they hold a control character";
  const split = splitArgs(chartValues);
  if (!split.ok) return split.reason;
  for (const [key, value] of setValuePairs(split.args)) {
    if (ARG_VALUE_CONTROL.test(key)) return "a key holds a control character";
    const shown = quote(key);
    if (ARG_VALUE_CONTROL.test(value)) return `the value of ${shown} holds a control character`;
    if (value.startsWith("-")) return `the value of ${shown} must not start with '-'`;
  }
  return undefined;
}
