/**
 * The one table of command lines that the service's splitter (src/domain/validation/args.ts, used at PUT time for
 * operatorParams and chartValues) and the agent's (src/agent/manifests.ts splitArgs, used when writing the
 * Deployments) must both pass: the same arguments, or both refuse an unclosed quote.
 */
export const UNCLOSED = "unclosed quote";

export const ARG_SPLIT_CASES: ReadonlyArray<readonly [string, readonly string[] | typeof UNCLOSED]> = [
  ["", []],
  ["   ", []],
  ["a", ["a"]],
  ["a b", ["a", "b"]],
  [" a\t b\n c\r\n", ["a", "b", "c"]],
  ["a  'b c' \"d \\\"e\\\"\" f\\ g x='' ", ["a", "b c", 'd "e"', "f g", "x="]],
  ["--git-user=\"Flux Bot\"", ["--git-user=Flux Bot"]],
  ["--git-user='Flux Bot'", ["--git-user=Flux Bot"]],
  ["--git-user 'Flux Bot'", ["--git-user", "Flux Bot"]],
  ["''", [""]],
  ['""', [""]],
  ["a'b'c", ["abc"]],
  ["a\"b c\"d", ["ab cd"]],
  ["'a\\b'", ["a\\b"]],
  ["'a\\'", ["a\\"]],
  ['"a\\b"', ["a\\b"]],
  ['"a\\\\b"', ["a\\b"]],
  ['"a\\"b"', ['a"b']],
  ["a\\'b", ["a'b"]],
  ['a\\"b', ['a"b']],
  ["a\\\\b", ["a\\b"]],
  ["a\\ b", ["a b"]],
  ["a\\", ["a\\"]],
  ["\"it's\"", ["it's"]],
  ["'say \"hi\"'", ['say "hi"']],
  ["--set workers=2,logFormat=json", ["--set", "workers=2,logFormat=json"]],
  ["--set=helm.versions=v3 --set-string 'git.defaultRef=main'", ["--set=helm.versions=v3", "--set-string", "git.defaultRef=main"]],
  ["a\u00a0b", ["a", "b"]],
  ["a\u2028b", ["a", "b"]],
  ["'unclosed", UNCLOSED],
  ['"unclosed', UNCLOSED],
  ["--git-user=\"Flux Bot", UNCLOSED],
  ["--set a='1,b=2", UNCLOSED],
  ['"a\\"', UNCLOSED],
  ["'a' 'b", UNCLOSED],
  ["a\"", UNCLOSED],
];
