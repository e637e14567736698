/**
 * The one table of command lines for the splitter the service and the agent share (src/contract/args.ts: the
 * service splits operatorParams and chartValues with it at PUT time, the agent through src/agent/manifests.ts
 * splitArgs when writing the Deployments): the arguments, or a refusal of an unclosed quote.
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
